"""``citysoc audit verify|seal``: prove the audit chain against its signed checkpoints."""

from __future__ import annotations

import argparse
from contextlib import closing
from pathlib import Path

from citysoc.cli.output import fail, say
from citysoc.core.keys import load_public_key
from citysoc.core.settings import Settings
from eventstore.open import open_event_store
from soc_api.audit.anchor import seal, verify_anchored
from soc_api.db import init_state, make_engine


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audit", help="check the tamper-evident audit log")
    actions = parser.add_subparsers(dest="audit_action", required=True)
    verify = actions.add_parser(
        "verify", help="recompute the hash chain and check it against the signed checkpoints"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        help="the audit public key kept away from the SOC host "
        "(default: audit-signing.pub in the data dir)",
    )
    verify.set_defaults(func=run_verify)
    actions.add_parser(
        "seal", help="seal the chain's head into a signed checkpoint now (the API does it too)"
    ).set_defaults(func=run_seal)


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    sessions = init_state(make_engine(settings.resolved_state_url))
    public = load_public_key(args.public_key) if args.public_key else None
    with sessions() as session, closing(open_event_store(settings)) as store:
        report = verify_anchored(session, settings.data_dir, public, store)
    if report.ok:
        latest = report.latest
        anchored = (
            f"; anchored by {report.checkpoints} signed checkpoints, the latest sealed "
            f"{latest.at} at entry {latest.last_id}"
            if latest
            else "; no signed checkpoint yet (citysoc audit seal)"
        )
        say(f"audit chain intact: {report.entries} entries{anchored}")
        return 0
    fail(f"audit log NOT intact ({report.entries} entries chained before the first problem):")
    for problem in report.problems:
        fail(f"  - {problem}")
    return 1


def run_seal(_args: argparse.Namespace, settings: Settings) -> int:
    sessions = init_state(make_engine(settings.resolved_state_url))
    with sessions() as session, closing(open_event_store(settings)) as store:
        checkpoint = seal(session, settings.data_dir, store)
    if checkpoint is None:
        say("nothing to seal: the chain is empty or its head is sealed already")
    else:
        sealed = f"entry {checkpoint.last_id} ({checkpoint.entries} entries)"
        say(f"sealed {sealed} with key {checkpoint.key_id}")
    return 0
