"""Console pages for cases (list, case page with its timeline, forms) and notifications."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc_api.alerts.models import CloseReason, Severity
from soc_api.auth.models import Principal
from soc_api.cases.access import list_cases, load_case, view
from soc_api.cases.models import CaseStatus
from soc_api.cases.schemas import CaseOpen, CaseUpdate, CommentCreate, TaskCreate
from soc_api.cases.service import add_comment, add_task, open_case, set_task, sync_case, update_case
from soc_api.console.common import check_csrf, render
from soc_api.console.views import Csrf, require_console_user, to_login
from soc_api.context import SocContext
from soc_api.deps import ContextDep, MaybeAnalyst, ObjectId, SessionDep
from soc_api.notifications.models import DeliveryStatus
from soc_api.notifications.outbox import outbox_for
from soc_api.notifications.views import list_notifications

router = APIRouter(include_in_schema=False)
PAGE = 100


def _span(ctx: SocContext) -> timedelta:
    return timedelta(seconds=ctx.settings.incident_window_seconds)


def _back(case_id: int) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(
    request: Request,
    session: SessionDep,
    analyst: MaybeAnalyst,
    status: CaseStatus | None = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    if analyst is None:
        return to_login()
    total, cases = list_cases(session, who=analyst, status=status, limit=PAGE, offset=offset)
    return render(
        request,
        "cases.html",
        {
            "analyst": analyst,
            "cases": cases,
            "total": total,
            "statuses": list(CaseStatus),
            "status": status,
            "offset": offset,
            "page": PAGE,
        },
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    case_id: ObjectId,
) -> Response:
    if analyst is None:
        return to_login()
    case, agencies = load_case(session, case_id, analyst)
    public = view(session, case, agencies, analyst, topology=ctx.topology)
    return render(
        request,
        "case.html",
        {
            "analyst": analyst,
            "case": public,
            "reasons": list(CloseReason),
            "severities": list(Severity),
            "writer": _writer(analyst),
        },
    )


def _writer(who: Principal) -> bool:
    return who.token_scope is None and who.role.value in ("city_analyst", "agency_analyst", "admin")


@router.post("/cases")
def open_case_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    incident_id: Annotated[int, Form(ge=1, le=2**53)],
    title: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Open a case from an incident's page."""
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    data = CaseOpen(incident_id=incident_id, title=title.strip() or None)
    case = open_case(session, who=who, data=data, window=_span(ctx), outbox=outbox_for(ctx))
    session.commit()
    return _back(case.id)


@router.post("/cases/{case_id}/update")
def update_case_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    case_id: ObjectId,
    status: Annotated[CaseStatus | None, Form()] = None,
    close_reason: Annotated[CloseReason | None, Form()] = None,
    severity: Annotated[Severity | None, Form()] = None,
    owner: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    change = CaseUpdate(
        status=status,
        close_reason=close_reason,
        severity=severity,
        owner=None if owner is None else owner.strip(),
    )
    update_case(session, case_id=case_id, who=who, change=change, outbox=outbox_for(ctx))
    session.commit()
    return _back(case_id)


@router.post("/cases/{case_id}/tasks")
def add_task_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    case_id: ObjectId,
    title: Annotated[str, Form(min_length=1, max_length=256)],
    agency: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    data = TaskCreate(title=title, agency=agency or None)
    add_task(session, case_id=case_id, who=who, data=data, outbox=outbox_for(ctx))
    session.commit()
    return _back(case_id)


@router.post("/cases/{case_id}/tasks/{task_id}")
def tick_task_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    case_id: ObjectId,
    task_id: ObjectId,
    done: Annotated[bool, Form()],
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    set_task(session, case_id=case_id, task_id=task_id, who=who, done=done, outbox=outbox_for(ctx))
    session.commit()
    return _back(case_id)


@router.post("/cases/{case_id}/comments")
def comment_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    case_id: ObjectId,
    body: Annotated[str, Form(min_length=1, max_length=4000)],
    agency: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    data = CommentCreate(body=body, agency=agency or None)
    add_comment(session, case_id=case_id, who=who, data=data, outbox=outbox_for(ctx))
    session.commit()
    return _back(case_id)


@router.post("/cases/{case_id}/sync")
def sync_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    case_id: ObjectId,
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    sync_case(session, case_id=case_id, who=who, window=_span(ctx), outbox=outbox_for(ctx))
    session.commit()
    return _back(case_id)


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    status: DeliveryStatus | None = None,
) -> Response:
    """Recent deliveries and failures of the caller's agency's recipients (all: city SOC)."""
    if analyst is None:
        return to_login()
    page = list_notifications(session, who=analyst, status=status, limit=PAGE)
    configured = outbox_for(ctx).configured
    return render(
        request,
        "notifications.html",
        {
            "analyst": analyst,
            "page": page,
            "status": status,
            "statuses": list(DeliveryStatus),
            "configured": configured,
        },
    )
