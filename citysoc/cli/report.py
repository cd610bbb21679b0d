"""``citysoc report compliance|verify``: signed compliance reports for auditors."""

from __future__ import annotations

import argparse
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from citysoc.cli.output import fail, say, table
from citysoc.core.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="compliance reports for auditors (signed)")
    verbs = parser.add_subparsers(dest="report_action", required=True)
    make = verbs.add_parser(
        "compliance", help="one agency's report for a framework and half-year: JSON, HTML, PDF"
    )
    make.add_argument("--agency", required=True, help="agency id from the topology")
    make.add_argument("--period", required=True, help="half-year: YYYY-H1 or YYYY-H2")
    make.add_argument("--framework", required=True, help="decree85, tcvn11930 or circular31")
    make.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    make.add_argument("--lang", choices=("vi", "en"), default="vi", help="default: vi")
    make.add_argument(
        "--stack", help="Pulumi stack for the policy results (default: the only stack file)"
    )
    make.add_argument("--no-pdf", action="store_true", help="write JSON and HTML only")
    make.set_defaults(func=run_compliance)
    attest = verbs.add_parser(
        "attest", help="keep a document for a requirement citysoc cannot check itself"
    )
    attest.add_argument("--agency", required=True, help="agency id from the topology")
    attest.add_argument("--period", required=True, help="half-year: YYYY-H1 or YYYY-H2")
    attest.add_argument("--framework", required=True, help="decree85, tcvn11930 or circular31")
    attest.add_argument("--requirement", required=True, help="e.g. d85-dossier-approved")
    attest.add_argument("--file", type=Path, required=True, help="the document")
    attest.add_argument("--by", required=True, help="who attests (recorded, and audited)")
    attest.set_defaults(func=run_attest)
    incident = verbs.add_parser(
        "incident",
        help="the Circular 20/2017 notification (or final report) of one incident, as one "
        "agency's operator sends it: JSON, HTML, PDF, signed",
    )
    incident.add_argument("--id", type=int, required=True, help="the incident's id")
    incident.add_argument("--agency", required=True, help="the reporting agency (its part only)")
    incident.add_argument(
        "--final", action="store_true", help="the final report (every alert closed)"
    )
    incident.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    incident.add_argument("--lang", choices=("vi", "en"), default="vi", help="default: vi")
    incident.add_argument("--at", help="the report's time, ISO 8601 UTC (default: now)")
    incident.add_argument("--no-pdf", action="store_true", help="write JSON and HTML only")
    incident.set_defaults(func=run_incident)
    check = verbs.add_parser("verify", help="prove a report's files against their signature")
    check.add_argument("file", type=Path, help="any file of the report, or its .sig.json")
    check.add_argument(
        "--public-key",
        type=Path,
        help="the public key kept away from the SOC host (default: audit-signing.pub in the "
        "data dir)",
    )
    check.set_defaults(func=run_verify)


def run_compliance(args: argparse.Namespace, settings: Settings) -> int:
    from eventstore.open import open_event_store
    from soc_api.audit.anchor import signing_key
    from soc_api.compliance.frameworks import framework
    from soc_api.compliance.gather import REPO, context_from_settings, single_stack
    from soc_api.compliance.period import parse_period
    from soc_api.compliance.publish import write_report
    from soc_api.compliance.report import build_report, check_agency

    chosen = framework(args.framework)
    period = parse_period(args.period)
    stack = args.stack or single_stack(REPO)
    with closing(open_event_store(settings)) as store:
        ctx = context_from_settings(settings, args.agency, period, stack=stack, store=store)
        check_agency(ctx)
        report = build_report(ctx, chosen, args.lang)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    paths = write_report(report, args.out, signing_key(settings.data_dir), pdf=not args.no_pdf)
    rows = [(r["id"], r["status"], r["ref"][:60]) for r in report["requirements"]]
    table(("requirement", "status", "reference"), rows)
    summary = ", ".join(f"{n} {s}" for s, n in report["summary"].items() if n)
    say(f"{chosen.id} for {args.agency}, {period.name}: {summary}")
    for path in paths:
        say(f"wrote {path}")
    return 0


def run_attest(args: argparse.Namespace, settings: Settings) -> int:
    from citysoc.core.topology import load_topology
    from soc_api.audit import service as audit
    from soc_api.compliance.attestations import save
    from soc_api.compliance.frameworks import ComplianceError, framework
    from soc_api.compliance.period import iso, parse_period
    from soc_api.db import init_state, make_engine, transaction

    chosen = framework(args.framework)
    period = parse_period(args.period)
    agencies = load_topology(settings.topology_path).agencies
    if args.agency not in agencies:
        raise ComplianceError(
            f"unknown agency {args.agency!r}; agencies: {', '.join(sorted(agencies))}"
        )
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        raise ComplianceError(f"cannot read {args.file}: {exc}") from exc
    record = save(
        settings.data_dir, agency=args.agency, period=period, framework=chosen,
        requirement=args.requirement, file_name=args.file.name, content=content,
        by=args.by, at=iso(datetime.now(UTC)),
    )  # fmt: skip
    sessions = init_state(make_engine(settings.resolved_state_url))
    with transaction(sessions) as session:
        audit.append(
            session, actor=f"cli:{args.by}"[:96], action="compliance.attest",
            object_type="attestation", object_id=record.stored_as[:64], agency=args.agency,
            detail=record.model_dump(),
        )  # fmt: skip
    say(f"kept {record.file_name} ({record.sha256}) for {chosen.id} {record.requirement}, "
        f"{args.agency} {period.name}")  # fmt: skip
    return 0


def run_incident(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from citysoc.core.topology import load_topology
    from soc_api.audit import service as audit
    from soc_api.audit.anchor import signing_key
    from soc_api.auth.models import Principal, Role
    from soc_api.compliance.incident_report import build_incident_report
    from soc_api.compliance.period import iso
    from soc_api.compliance.publish import write_report
    from soc_api.db import init_state, make_engine, transaction
    from soc_api.incidents.service import get_incident
    from soc_api.incidents.visibility import visible_incident

    topology = load_topology(settings.topology_path)
    names = {a.id: a.name_vi or a.name for a in topology.agencies.values()}
    at = args.at or iso(datetime.now(UTC))
    sessions = init_state(make_engine(settings.resolved_state_url))
    reporter = Principal(0, f"cli:{args.agency}", Role.AGENCY_ANALYST, args.agency)
    with transaction(sessions) as session:
        incident = get_incident(
            session, incident_id=args.id, who=reporter, names=names,
            window=timedelta(seconds=settings.incident_window_seconds),
        )  # fmt: skip
        incident = visible_incident(incident, who=reporter, topology=topology)  # its part only
        report = build_incident_report(
            incident, agency=args.agency, topology=topology,
            kind="final" if args.final else "notification", lang=args.lang, at=at,
        )  # fmt: skip
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        paths = write_report(report, args.out, signing_key(settings.data_dir), pdf=not args.no_pdf)
        audit.append(
            session, actor="cli", action="compliance.incident_report", object_type="incident",
            object_id=str(args.id), agency=args.agency,
            detail={"kind": report["kind"], "at": at, "files": [p.name for p in paths]},
        )  # fmt: skip
    state = report["incident"]
    say(f"{report['kind']} of incident {args.id} for {args.agency}: {state['status']}, "
        f"due {state['due']} ({'on time' if state['on_time'] else 'LATE'})")  # fmt: skip
    for path in paths:
        say(f"wrote {path}")
    return 0


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    from citysoc.core.keys import load_public_key
    from soc_api.audit.anchor import PUBLIC_KEY
    from soc_api.compliance.signing import manifest_path, verify

    public = load_public_key(args.public_key or settings.data_dir / PUBLIC_KEY)
    problems = verify(args.file, public)
    if problems:
        fail(f"report NOT as signed ({manifest_path(args.file).name}):")
        for problem in problems:
            fail(f"  - {problem}")
        return 1
    say(f"report intact: every file of {manifest_path(args.file).name} is as signed")
    return 0
