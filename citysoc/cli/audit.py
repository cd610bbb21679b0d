"""``citysoc audit verify``: prove the audit chain, or name its first broken entry."""

from __future__ import annotations

import argparse

from citysoc.cli.output import fail, say
from citysoc.core.settings import Settings
from soc_api.audit.service import verify_chain
from soc_api.db import init_state, make_engine


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audit", help="check the tamper-evident audit log")
    actions = parser.add_subparsers(dest="audit_action", required=True)
    actions.add_parser("verify", help="recompute the hash chain").set_defaults(func=run_verify)


def run_verify(_args: argparse.Namespace, settings: Settings) -> int:
    sessions = init_state(make_engine(settings.resolved_state_url))
    with sessions() as session:
        report = verify_chain(session)
    if report.intact:
        say(f"audit chain intact: {report.entries} entries")
        return 0
    fail(
        f"audit chain broken at entry {report.first_broken_id} "
        f"(after {report.entries} good entries): {report.problem}"
    )
    return 1
