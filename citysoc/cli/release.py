"""``citysoc release build|gate|verify|record|promote|rollback|keygen``: the analytics
bundle, its gate, its proof, and its record and deployment in the SOC.

``build`` makes a versioned bundle of the rules and what they compile to; ``gate`` runs every
check of the gate policy on it and writes a decision signed with the release key; ``verify``
checks a bundle against its decision and a public key before anything deploys it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from citysoc.cli.output import fail, note, say, table
from citysoc.core.errors import ConfigError
from citysoc.core.keys import key_id, load_private_key, load_public_key, private_pem, public_pem
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from soc_api.auth.models import Principal


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("release", help="build, gate and verify analytics bundles")
    verbs = parser.add_subparsers(dest="verb", required=True)
    build = verbs.add_parser("build", help="build a versioned analytics bundle")
    build.add_argument("--out", type=Path, default=Path("dist/releases"), help="output folder")
    build.add_argument("--previous", type=Path, help="the previous bundle (for the changelog)")
    build.add_argument("--version", dest="bundle_version", help="default: <citysoc>-<hash>")
    build.add_argument("--rules", type=Path, help="rules tree (default: the installed one)")
    build.set_defaults(func=build_command)
    gate = verbs.add_parser("gate", help="run every check on a bundle; write its signed decision")
    gate.add_argument("bundle", type=Path)
    gate.add_argument("--range", dest="range_score", type=Path, help="citysoc range run's score")
    gate.add_argument("--policy", type=Path, help="gate policy (default releases/gate-policy.yml)")
    gate.add_argument("--corpus", type=Path, help="the SigmaHQ rules folder to check")
    gate.add_argument("--key", type=Path, help="signing key (default CITYSOC_RELEASE_SIGNING_KEY)")
    gate.set_defaults(func=gate_command)
    verify = verbs.add_parser("verify", help="check a bundle's files, decision and signature")
    verify.add_argument("bundle", type=Path)
    verify.add_argument("--public-key", type=Path, required=True)
    verify.add_argument(
        "--installed", action="store_true", help="also: the installed rules are the bundle's"
    )
    verify.set_defaults(func=verify_command)
    record = verbs.add_parser(
        "record", help="record a gated bundle in the SOC (its decision checked with the key)"
    )
    record.add_argument("bundle", type=Path)
    record.set_defaults(func=record_command)
    promote = verbs.add_parser("promote", help="deploy a recorded release (one that passed)")
    promote.add_argument("release", help="the release's version or id")
    promote.add_argument("--note", default="", help="why (kept in the audit log)")
    promote.set_defaults(func=promote_command)
    rollback = verbs.add_parser("rollback", help="deploy again the release deployed before")
    rollback.add_argument("--note", default="", help="why (kept in the audit log)")
    rollback.set_defaults(func=rollback_command)
    keygen = verbs.add_parser("keygen", help="make an Ed25519 release signing key pair")
    keygen.add_argument("--out", type=Path, required=True, help="private key file (mode 0600)")
    keygen.set_defaults(func=keygen_command)


def build_command(args: argparse.Namespace, settings: Settings) -> int:
    from releases.bundle import build_bundle

    started = time.perf_counter()
    extra = {"rules_root": args.rules} if args.rules else {}
    built = build_bundle(
        args.out, load_topology(settings.topology_path), previous=args.previous,
        version=args.bundle_version, **extra,
    )  # fmt: skip
    log = built.manifest.changelog
    say(f"bundle {built.manifest.version}: {built.path}")
    say(f"  archive {built.archive}")
    say(f"  content hash {built.manifest.content_hash}")
    say(f"  {len(built.manifest.files)} files, {len(built.manifest.rules)} rules; against "
        f"{log.previous or 'nothing'}: {len(log.added)} added, {len(log.removed)} removed, "
        f"{len(log.changed)} changed")  # fmt: skip
    for word, names in (("added", log.added), ("removed", log.removed), ("changed", log.changed)):
        if log.previous and names:
            say(f"  {word}: {', '.join(names)}")
    note(f"built in {time.perf_counter() - started:.1f} s")
    return 0


def gate_command(args: argparse.Namespace, settings: Settings) -> int:
    from releases.gate import DEFAULT_POLICY, GateInputs, load_policy, run_gate

    key_path = args.key or settings.release_signing_key
    if key_path is None:
        raise ConfigError(
            "no release signing key: set CITYSOC_RELEASE_SIGNING_KEY (or --key); "
            "citysoc release keygen --out FILE makes one"
        )
    if key_path.exists() and key_path.stat().st_mode & 0o077:
        raise ConfigError(
            f"{key_path} can be read by other users: chmod 600 it (and consider it exposed)"
        )
    key = load_private_key(key_path)
    policy, policy_hash = load_policy(args.policy or DEFAULT_POLICY)
    inputs = GateInputs(
        topology=load_topology(settings.topology_path), default_agency=settings.default_agency,
        range_score=args.range_score, corpus=args.corpus,
    )  # fmt: skip
    run = run_gate(args.bundle, policy, policy_hash, inputs, key)
    decision = run.decision
    rows = [
        (c.name, "pass" if c.passed else "FAIL", f"{run.seconds.get(c.name, 0):.1f} s", c.detail)
        for c in decision.checks
    ]
    table(("check", "result", "time", "detail"), rows)
    for check in decision.failed():
        for failure in check.failures:
            fail(f"{check.name}: {failure}")
    verdict = "PASSED" if decision.passed else "REFUSED"
    say(f"bundle {decision.bundle_version}: {verdict}; decision signed by key "
        f"{decision.key_id} in {args.bundle / 'decision.json'}")  # fmt: skip
    return 0 if decision.passed else 1


def verify_command(args: argparse.Namespace, _settings: Settings) -> int:
    from releases.bundle import installed_differences
    from releases.signing import read_manifest, verify_release

    public = load_public_key(args.public_key)
    problems = verify_release(args.bundle, public)
    if args.installed and not problems:
        problems += installed_differences(read_manifest(args.bundle))
    for problem in problems:
        fail(problem)
    if problems:
        say(f"{args.bundle}: NOT deployable ({len(problems)} problems)")
        return 1
    manifest = read_manifest(args.bundle)
    say(f"{args.bundle}: bundle {manifest.version} ({manifest.content_hash[:16]}) passed the "
        f"gate, signed by key {key_id(public)}")  # fmt: skip
    return 0


def keygen_command(args: argparse.Namespace, _settings: Settings) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if args.out.exists():
        raise ConfigError(f"{args.out} exists: refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem(key))
    public = args.out.with_suffix(".pub")
    public.write_bytes(public_pem(key.public_key()))
    say(f"release key {key_id(key.public_key())}: private {args.out} (0600), public {public}")
    return 0


def _ops() -> Principal:
    """How the audit log names the person running these commands."""
    from citysoc.cli.serve import cli_actor
    from soc_api.auth.models import Principal, Role

    return Principal(0, cli_actor(), Role.OPS, None)


def record_command(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from releases.models import DECISION, MANIFEST
    from soc_api.db import init_state, make_engine, transaction
    from soc_api.releases.models import ReleaseUpload
    from soc_api.releases.service import record_release
    from soc_api.releases.views import release_public_key

    try:
        upload = ReleaseUpload(
            manifest=json.loads((args.bundle / MANIFEST).read_text(encoding="utf-8")),
            decision=json.loads((args.bundle / DECISION).read_text(encoding="utf-8")),
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{args.bundle} is not a gated bundle: {exc}") from exc
    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        release = record_release(
            session, upload=upload, public=release_public_key(settings), who=_ops()
        )
        version, passed, ident = release.version, release.passed, release.id
    say(f"recorded release {version} (#{ident}): the gate {'passed' if passed else 'REFUSED'} it")
    return 0


def _release_id(session: Session, wanted: str) -> int:
    from sqlalchemy import select

    from soc_api.releases.models import Release

    found = session.scalars(
        select(Release.id).where(
            (Release.version == wanted) | (Release.id == (int(wanted) if wanted.isdigit() else -1))
        )
    ).first()
    if found is None:
        raise ConfigError(f"no recorded release {wanted!r} (citysoc release record BUNDLE)")
    return int(found)


def promote_command(args: argparse.Namespace, settings: Settings) -> int:
    from soc_api.db import init_state, make_engine, transaction
    from soc_api.releases.service import promote

    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        step = promote(session, release_id=_release_id(session, args.release), who=_ops(),
                       note=args.note)  # fmt: skip
        say(f"release #{step.release_id} is now the deployed one")
    return 0


def rollback_command(args: argparse.Namespace, settings: Settings) -> int:
    from soc_api.db import init_state, make_engine, transaction
    from soc_api.releases.service import rollback

    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        step = rollback(session, who=_ops(), note=args.note)
        say(f"rolled back: release #{step.release_id} is the deployed one again")
    return 0
