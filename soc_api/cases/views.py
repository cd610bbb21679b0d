"""``/api/v1/cases``: stored cases, their tasks, comments, alerts and timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import NotFoundError
from soc_api.auth.models import Principal
from soc_api.cases.access import list_cases, load_case, view
from soc_api.cases.models import CaseAlert, CaseStatus
from soc_api.cases.schemas import (
    CaseLink,
    CaseOpen,
    CasePage,
    CasePublic,
    CaseUpdate,
    CommentCreate,
    CommentPublic,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)
from soc_api.cases.service import (
    add_comment,
    add_task,
    link_alerts,
    open_case,
    set_task,
    sync_case,
    update_case,
)
from soc_api.context import SocContext
from soc_api.deps import ContextDep, CurrentAnalyst, ObjectId, SessionDep
from soc_api.errors import ErrorBody
from soc_api.incidents.service import get_incident
from soc_api.notifications.outbox import outbox_for

router = APIRouter(tags=["cases"])
PREFIX = "/api/v1/cases"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The case or an alert is not in a state for this."}
}


def window(ctx: SocContext) -> timedelta:
    return timedelta(seconds=ctx.settings.incident_window_seconds)


def case_view(ctx: SocContext, session: Session, case_id: int, who: Principal) -> CasePublic:
    case, agencies = load_case(session, case_id, who)
    return view(session, case, agencies, who, topology=ctx.topology)


@router.get(PREFIX, response_model=CasePage)
def get_cases(
    session: SessionDep,
    analyst: CurrentAnalyst,
    status: CaseStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CasePage:
    """Cases the caller has a part in, most recently changed first."""
    total, items = list_cases(session, who=analyst, status=status, limit=limit, offset=offset)
    return CasePage(total=total, items=items)


@router.post(PREFIX, response_model=CasePublic, status_code=201, responses=CONFLICT)
def post_case(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, data: CaseOpen
) -> CasePublic:
    """Open a case from an incident (all its alerts, its notes carried over) or from alerts.

    An alert is in one case at most: 409 names the case that holds it."""
    case = open_case(session, who=analyst, data=data, window=window(ctx), outbox=outbox_for(ctx))
    session.commit()
    return case_view(ctx, session, case.id, analyst)


@router.get(PREFIX + "/{case_id:id}", response_model=CasePublic)
def get_case(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, case_id: ObjectId
) -> CasePublic:
    """One case: the caller's part (alerts, tasks, comments, timeline), counts of the others."""
    return case_view(ctx, session, case_id, analyst)


@router.patch(PREFIX + "/{case_id:id}", response_model=CasePublic, responses=CONFLICT)
def patch_case(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    case_id: ObjectId,
    change: CaseUpdate,
) -> CasePublic:
    """Change the status (new → in_progress → contained → closed; closing needs a reason),
    severity, owner or title. A shared case is the city SOC's to change (403 otherwise)."""
    update_case(session, case_id=case_id, who=analyst, change=change, outbox=outbox_for(ctx))
    session.commit()
    return case_view(ctx, session, case_id, analyst)


@router.post(PREFIX + "/{case_id:id}/tasks", response_model=TaskPublic, status_code=201)
def post_task(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    case_id: ObjectId,
    data: TaskCreate,
) -> TaskPublic:
    """Add a task to the caller's agency's part (the city SOC: to any agency's, or its own)."""
    task = add_task(session, case_id=case_id, who=analyst, data=data, outbox=outbox_for(ctx))
    session.commit()
    return TaskPublic.model_validate(task)


@router.patch(PREFIX + "/{case_id:id}/tasks/{task_id:id}", response_model=TaskPublic)
def patch_task(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    case_id: ObjectId,
    task_id: ObjectId,
    data: TaskUpdate,
) -> TaskPublic:
    """Tick a task off, or reopen it."""
    task = set_task(
        session,
        case_id=case_id,
        task_id=task_id,
        who=analyst,
        done=data.done,
        outbox=outbox_for(ctx),
    )
    session.commit()
    return TaskPublic.model_validate(task)


@router.post(PREFIX + "/{case_id:id}/comments", response_model=CommentPublic, status_code=201)
def post_comment(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    case_id: ObjectId,
    data: CommentCreate,
) -> CommentPublic:
    """Comment in the caller's agency's part (the city SOC: any agency's, or its own)."""
    comment = add_comment(session, case_id=case_id, who=analyst, data=data, outbox=outbox_for(ctx))
    session.commit()
    return CommentPublic.model_validate(comment)


@router.post(PREFIX + "/{case_id:id}/alerts", response_model=CasePublic, responses=CONFLICT)
def post_case_alerts(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    case_id: ObjectId,
    data: CaseLink,
) -> CasePublic:
    """Link alerts the caller sees; one already in another case is refused (409)."""
    link_alerts(
        session, case_id=case_id, who=analyst, alert_ids=data.alert_ids, outbox=outbox_for(ctx)
    )
    session.commit()
    return case_view(ctx, session, case_id, analyst)


@router.post(PREFIX + "/{case_id:id}/sync", response_model=CasePublic)
def post_case_sync(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, case_id: ObjectId
) -> CasePublic:
    """Take in the alerts that joined the case's incidents since it was opened (those in no
    other case) and the incident notes left on its alerts since."""
    sync_case(session, case_id=case_id, who=analyst, window=window(ctx), outbox=outbox_for(ctx))
    session.commit()
    return case_view(ctx, session, case_id, analyst)


def case_of_incident(
    session: Session, *, incident_id: int, who: Principal, span: timedelta
) -> int | None:
    """The case holding any alert the caller sees of an incident, if there is one."""
    incident = get_incident(session, incident_id=incident_id, who=who, window=span)
    return session.scalar(
        select(CaseAlert.case_id)
        .where(CaseAlert.alert_id.in_([a.id for a in incident.alerts]))
        .order_by(CaseAlert.case_id)
        .limit(1)
    )


@router.get("/api/v1/incidents/{incident_id:id}/case", response_model=CasePublic)
def get_incident_case(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, incident_id: ObjectId
) -> CasePublic:
    """The case that holds this incident's alerts (404 if none was opened)."""
    found = case_of_incident(session, incident_id=incident_id, who=analyst, span=window(ctx))
    if found is None:
        raise NotFoundError(f"incident {incident_id} has no case")
    return case_view(ctx, session, found, analyst)
