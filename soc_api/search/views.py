"""``/api/v1/events`` (search with the query language) and ``/api/v1/pivot`` (one entity)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from eventstore.base import MAX_OFFSET
from soc_api.deps import ContextDep, CurrentAnalyst, SessionDep
from soc_api.incidents.views import agency_names
from soc_api.search.events import find_events
from soc_api.search.models import MAX_QUERY, EntityKind, EventPagePublic, PivotPublic
from soc_api.search.pivot import Paging, pivot

router = APIRouter(tags=["search"])

QueryText = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY,
        description="A query: `field:value` (ECS fields), AND/OR/NOT, parentheses, ranges "
        "`destination.port:[1 TO 1024]`, `@timestamp:>=2026-11-20`, networks "
        "`source.ip:10.20.0.0/16`, wildcards `host.name:cam-*`, quoted phrases; a bare value "
        "searches the main entity fields. A query that cannot be read is a 400 naming the column.",
    ),
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.get("/api/v1/events", response_model=EventPagePublic)
def get_events(
    ctx: ContextDep,
    analyst: CurrentAnalyst,
    q: QueryText = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> EventPagePublic:
    """Events the caller may read that match ``q``, newest first, with the total."""
    page = find_events(ctx.store, who=analyst, q=q, limit=limit, offset=offset)
    return EventPagePublic(total=page.total, limit=limit, offset=offset, items=page.events)


@router.get("/api/v1/pivot/{kind}/{value:path}", response_model=PivotPublic)
def get_pivot(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    kind: EntityKind,
    value: Annotated[str, Path(max_length=512, description="The address, name, hash or rule")],
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    events_offset: Offset = 0,
    alerts_offset: Offset = 0,
) -> PivotPublic:
    """One entity: its events, alerts and incidents, first and last seen, and which agencies
    saw it. An agency's analyst reads their agencies' records; other agencies are counts."""
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    return pivot(
        session,
        ctx.store,
        who=analyst,
        kind=kind,
        value=value,
        paging=Paging(limit=limit, events_offset=events_offset, alerts_offset=alerts_offset),
        window=window,
        names=agency_names(ctx),
        topology=ctx.topology,
    )
