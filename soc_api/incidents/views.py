"""``/api/v1/incidents``: incidents and cross-agency campaigns."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from soc_api.context import SocContext
from soc_api.deps import ContextDep, CurrentAnalyst, ObjectId, SessionDep
from soc_api.incidents.models import (
    IncidentNoteCreate,
    IncidentNotePublic,
    IncidentPage,
    IncidentPublic,
    TargetPage,
)
from soc_api.incidents.service import (
    annotate_incident,
    get_incident,
    list_incidents,
    list_targets,
    summarise,
)
from soc_api.incidents.visibility import visible_incident, visible_targets

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def agency_names(ctx: SocContext) -> dict[str, str]:
    """Agencies' display names from the topology, for incident titles."""
    return {a.id: a.name_vi or a.name for a in ctx.topology.agencies.values()}


@router.get("", response_model=IncidentPage)
def get_incidents(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    campaigns_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> IncidentPage:
    """Incidents the caller has a part in, most recent activity first."""
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    found = list_incidents(
        session,
        who=analyst,
        window=window,
        campaigns_only=campaigns_only,
        names=agency_names(ctx),
    )
    items = [
        summarise(visible_incident(i, who=analyst, topology=ctx.topology))
        for i in found[offset : offset + limit]
    ]
    return IncidentPage(total=len(found), items=items)


@router.get("/{incident_id:id}", response_model=IncidentPublic)
def get_incident_detail(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, incident_id: ObjectId
) -> IncidentPublic:
    """One incident: the caller's part of it, a timeline, and counts of the other agencies."""
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    incident = get_incident(
        session, incident_id=incident_id, who=analyst, window=window, names=agency_names(ctx)
    )
    return visible_incident(incident, who=analyst, topology=ctx.topology)


@router.get("/targets", response_model=TargetPage)
def get_targets(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> TargetPage:
    """Target views: victims reached by several incidents (several actors), not campaigns."""
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    found = visible_targets(
        list_targets(session, who=analyst, window=window), who=analyst, topology=ctx.topology
    )
    return TargetPage(total=len(found), items=found[offset : offset + limit])


@router.post("/{incident_id:id}/notes", response_model=IncidentNotePublic, status_code=201)
def post_incident_note(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    incident_id: ObjectId,
    change: IncidentNoteCreate,
) -> IncidentNotePublic:
    """Note or assign an incident; the note stays with its alert through any regrouping."""
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    note = annotate_incident(
        session, incident_id=incident_id, who=analyst, window=window, change=change
    )
    session.commit()
    return note
