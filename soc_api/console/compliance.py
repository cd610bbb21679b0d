"""The Compliance page: auditors generate, list and download signed compliance reports.

City-wide readers (auditors, admins) see every agency; an agency's own readers only theirs.
Every generation and download is written to the audit log. Reports are kept under
``<data dir>/compliance/``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from citysoc.core.errors import NotFoundError, PermissionDeniedError
from soc_api.audit import service as audit
from soc_api.audit.anchor import signing_key
from soc_api.auth.models import Principal, Role
from soc_api.compliance.attestations import MAX_BYTES, attestable, save
from soc_api.compliance.evidence import Context
from soc_api.compliance.frameworks import ComplianceError, bundled_frameworks, framework
from soc_api.compliance.gather import REPO, policy_results, rule_outcomes, single_stack
from soc_api.compliance.period import iso, parse_period
from soc_api.compliance.publish import write_report
from soc_api.compliance.render import find_chromium
from soc_api.compliance.report import build_report
from soc_api.compliance.schedule import ReportSchedule, read_status
from soc_api.console.common import check_csrf, render
from soc_api.console.views import Csrf, to_login
from soc_api.context import SocContext
from soc_api.deps import ContextDep, MaybeAnalyst, SessionDep

router = APIRouter(include_in_schema=False)
FOLDER = "compliance"
FILE_NAME = re.compile(
    r"^(?P<framework>[a-z0-9]+)-(?P<agency>[a-z][a-z0-9-]*)-(?P<period>20\d\d-H[12])"
    r"\.(?P<ext>json|html|pdf|sig\.json)$"
)
MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8",
         "pdf": "application/pdf", "sig.json": "application/json"}  # fmt: skip
COMPLIANCE_ROLES = {Role.AUDITOR, Role.ADMIN, Role.AGENCY_ANALYST, Role.CITY_ANALYST}


def _require(who: Principal) -> None:
    if who.token_scope is not None or who.role not in COMPLIANCE_ROLES:
        raise PermissionDeniedError("compliance reports are for auditors and agency readers")


def _visible(who: Principal, all_agencies: list[str]) -> list[str]:
    return all_agencies if who.agencies is None else [a for a in all_agencies if a in who.agencies]


def _reports(folder: Path, agencies: list[str]) -> list[dict[str, object]]:
    """Past reports in ``folder`` of the given agencies, newest period first."""
    found: dict[str, dict[str, object]] = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        match = FILE_NAME.match(path.name)
        if match is None or match["agency"] not in agencies:
            continue
        stem = path.name[: match.start("ext") - 1]
        entry = found.setdefault(stem, {**match.groupdict(), "stem": stem, "files": []})
        files = entry["files"]
        assert isinstance(files, list)
        files.append(path.name)
    return sorted(found.values(), key=lambda e: (str(e["period"]), str(e["stem"])), reverse=True)


def compliance_schedule(ctx: SocContext) -> ReportSchedule:
    """The reports of each ended half-year, made in the background (see ``schedule.py``)."""
    stack = single_stack(REPO)
    path = ctx.settings.topology_path
    return ReportSchedule(
        topology=ctx.topology, sessions=ctx.sessions, store=ctx.store,
        data_dir=ctx.settings.data_dir, interval=ctx.settings.compliance_schedule_seconds,
        policies=(lambda: policy_results(stack, path)) if stack else None,
        rules=rule_outcomes, pdf=find_chromium() is not None,
    )  # fmt: skip


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, ctx: ContextDep, analyst: MaybeAnalyst) -> Response:
    if analyst is None:
        return to_login()
    _require(analyst)
    agencies = _visible(analyst, sorted(ctx.topology.agencies))
    return _page(request, ctx, analyst, agencies)


def _page(
    request: Request,
    ctx: ContextDep,
    analyst: Principal,
    agencies: list[str],
    error: str = "",
    status: int = 200,
) -> Response:
    folder = ctx.settings.data_dir / FOLDER
    return render(
        request,
        "compliance.html",
        {
            "analyst": analyst,
            "agencies": [ctx.topology.agencies[a] for a in agencies],
            "frameworks": sorted(bundled_frameworks().values(), key=lambda f: f.id),
            "attestable": [
                f"{f.id}/{r}"
                for f in sorted(bundled_frameworks().values(), key=lambda f: f.id)
                for r in attestable(f)
            ],
            "reports": _reports(folder, agencies),
            "schedule": read_status(folder),
            "error": error,
        },
        status=status,
    )


@router.post("/compliance", response_class=HTMLResponse)
def generate_report(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    agency: Annotated[str, Form(max_length=32)],
    period: Annotated[str, Form(max_length=16)],
    framework_id: Annotated[str, Form(alias="framework", max_length=32)],
    csrf: Csrf,
    lang: Annotated[str, Form(max_length=2)] = "vi",
) -> Response:
    """Build, sign and keep a report; audited as ``compliance.generate``."""
    if analyst is None:
        return to_login()
    _require(analyst)
    check_csrf(request, csrf)
    agencies = _visible(analyst, sorted(ctx.topology.agencies))
    if agency not in agencies:
        raise NotFoundError(f"no agency {agency!r} among those you may see")
    try:
        chosen, span = framework(framework_id), parse_period(period)
        if lang not in ("vi", "en"):
            raise ComplianceError(f"unknown language {lang!r}; languages: vi, en")
    except ComplianceError as exc:
        return _page(request, ctx, analyst, agencies, error=str(exc), status=400)
    stack = single_stack(REPO)
    path = ctx.settings.topology_path
    report_ctx = Context(
        topology=ctx.topology, agency=agency, period=span, sessions=ctx.sessions,
        store=ctx.store, data_dir=ctx.settings.data_dir,
        policies=(lambda: policy_results(stack, path)) if stack else None,
        rules=rule_outcomes,
    )  # fmt: skip
    report = build_report(report_ctx, chosen, "en" if lang == "en" else "vi")
    folder = ctx.settings.data_dir / FOLDER
    written = write_report(
        report, folder, signing_key(ctx.settings.data_dir), pdf=find_chromium() is not None
    )
    audit.append(
        session,
        actor=analyst.actor,
        action="compliance.generate",
        object_type="report",
        object_id=written[0].stem,
        agency=agency,
        detail={"framework": chosen.id, "period": span.name, "summary": report["summary"]},
    )
    session.commit()
    return RedirectResponse(f"/compliance#report-{written[0].stem}", status_code=303)


@router.get("/compliance/reports/{stem}", response_class=HTMLResponse)
def report_page(
    request: Request, stem: str, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst
) -> Response:
    """A kept report on the page: each requirement's status, and the evidence that decided
    it (findings, query, time, hash, what was found), for those who may see its agency."""
    if analyst is None:
        return to_login()
    _require(analyst)
    name = f"{stem}.json"
    match = FILE_NAME.match(name)
    agencies = _visible(analyst, sorted(ctx.topology.agencies))
    path = ctx.settings.data_dir / FOLDER / name
    if match is None or match["agency"] not in agencies or not path.is_file():
        raise NotFoundError(f"no report {stem[:80]!r}")
    report = json.loads(path.read_text(encoding="utf-8"))
    audit.append(
        session, actor=analyst.actor, action="compliance.view", object_type="report",
        object_id=name[:64], agency=match["agency"],
    )  # fmt: skip
    session.commit()
    shown = {
        name: json.dumps(piece.get("data", {}), ensure_ascii=False, indent=1, sort_keys=True)
        for name, piece in report.get("evidence", {}).items()
    }
    return render(
        request,
        "compliance_report.html",
        {"analyst": analyst, "report": report, "stem": stem, "data": shown},
    )


@router.get("/compliance/files/{name}")
def download_report(
    name: str, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst
) -> Response:
    """One file of a kept report, for those who may see its agency; audited."""
    if analyst is None:
        return to_login()
    _require(analyst)
    match = FILE_NAME.match(name)
    agencies = _visible(analyst, sorted(ctx.topology.agencies))
    path = ctx.settings.data_dir / FOLDER / name
    if match is None or match["agency"] not in agencies or not path.is_file():
        raise NotFoundError(f"no report file {name[:80]!r}")
    audit.append(
        session,
        actor=analyst.actor,
        action="compliance.download",
        object_type="report",
        object_id=name[:64],
        agency=match["agency"],
    )
    session.commit()
    return FileResponse(path, media_type=MEDIA[match["ext"]], filename=name)


@router.post("/compliance/attest", response_class=HTMLResponse)
async def upload_attestation(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    agency: Annotated[str, Form(max_length=32)],
    period: Annotated[str, Form(max_length=16)],
    requirement: Annotated[str, Form(max_length=96)],
    document: Annotated[UploadFile, File()],
    csrf: Csrf,
) -> Response:
    """Keep an attestation for one requirement; audited as ``compliance.attest``."""
    if analyst is None:
        return to_login()
    _require(analyst)
    check_csrf(request, csrf)
    agencies = _visible(analyst, sorted(ctx.topology.agencies))
    if agency not in agencies:
        raise NotFoundError(f"no agency {agency!r} among those you may see")
    content = await document.read(MAX_BYTES + 1)
    try:
        framework_id, _, req = requirement.partition("/")
        record = save(
            ctx.settings.data_dir, agency=agency, period=parse_period(period),
            framework=framework(framework_id), requirement=req,
            file_name=document.filename or "attestation", content=content,
            by=analyst.actor, at=iso(datetime.now(UTC)),
        )  # fmt: skip
    except ComplianceError as exc:
        return _page(request, ctx, analyst, agencies, error=str(exc), status=400)
    audit.append(
        session,
        actor=analyst.actor,
        action="compliance.attest",
        object_type="attestation",
        object_id=record.stored_as[:64],
        agency=agency,
        detail=record.model_dump(),
    )
    session.commit()
    return RedirectResponse("/compliance", status_code=303)
