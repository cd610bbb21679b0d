"""Console pages of the search language: the event search and the pivot page of one entity,
the pager every list shares, and the links that make every entity shown a pivot."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from citysoc.core.errors import QueryError
from eventstore.base import MAX_OFFSET
from soc_api.console.common import language, render, templates
from soc_api.console.i18n import translator
from soc_api.console.paging import PAGE_SIZES, page_size, pager, query_error
from soc_api.console.views import to_login
from soc_api.deps import ContextDep, MaybeAnalyst, SessionDep
from soc_api.incidents.views import agency_names
from soc_api.search.events import find_events
from soc_api.search.models import MAX_QUERY, EntityKind
from soc_api.search.pivot import EVENT_FIELDS, Paging, pivot

router = APIRouter(include_in_schema=False)

PIVOT_KINDS = frozenset(k.value for k in EntityKind)
# Which pivot each event field leads to (the first kind that lists it).
FIELD_KINDS: dict[str, str] = {}
for _kind, _fields in EVENT_FIELDS.items():
    for _field in _fields:
        FIELD_KINDS.setdefault(_field, _kind.value)
EVENT_COLUMNS = (
    "source.ip",
    "destination.ip",
    "host.name",
    "user.name",
)


def pivot_href(kind: str, value: object) -> str | None:
    """The pivot page of an entity, or ``None`` when it is not one."""
    text = str(value) if value not in (None, "") else ""
    if kind not in PIVOT_KINDS or not text or len(text) > 512:
        return None
    return f"/pivot/{kind}/{quote(text, safe='')}"


def entity_href(entity: object) -> str | None:
    """The pivot page of an entity written ``kind:value`` (``ip:203.0.113.77``)."""
    kind, _, value = str(entity).partition(":")
    return pivot_href(kind, value) if value else None


def field_href(field: str, value: object) -> str | None:
    """The pivot page of an event field's value (``source.ip`` → the address)."""
    kind = FIELD_KINDS.get(field)
    if kind is None or isinstance(value, dict | list | bool):
        return None
    return pivot_href(kind, value)


templates.env.globals.update(pivot_href=pivot_href, entity_href=entity_href, field_href=field_href)


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    ctx: ContextDep,
    analyst: MaybeAnalyst,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: int | None = None,
) -> Response:
    if analyst is None:
        return to_login()
    size = page_size(limit)
    error = None
    total, events = 0, []
    try:
        found = find_events(ctx.store, who=analyst, q=q, limit=size, offset=offset)
        total, events = found.total, found.events
    except QueryError as exc:
        error = query_error(q, exc, translator(language(request)))
    params = {"q": q, "limit": size if size != PAGE_SIZES[1] else None}
    return render(
        request,
        "events.html",
        {
            "analyst": analyst,
            "q": q,
            "error": error,
            "events": events,
            "total": total,
            "pager": pager(
                "/events", params, total=total, offset=offset, limit=size, name="offset"
            ),
            "columns": EVENT_COLUMNS,
        },
        400 if error else 200,
    )


@router.get("/pivot/{kind}/{value:path}", response_class=HTMLResponse)
def pivot_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    kind: EntityKind,
    value: str,
    events_offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    alerts_offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    if analyst is None:
        return to_login()
    size = PAGE_SIZES[0]
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    found = pivot(
        session,
        ctx.store,
        who=analyst,
        kind=kind,
        value=value,
        paging=Paging(limit=size, events_offset=events_offset, alerts_offset=alerts_offset),
        window=window,
        names=agency_names(ctx),
        topology=ctx.topology,
    )
    path = request.url.path
    offsets = {"events_offset": events_offset, "alerts_offset": alerts_offset}
    return render(
        request,
        "pivot.html",
        {
            "analyst": analyst,
            "pivot": found,
            "columns": EVENT_COLUMNS,
            "alerts_pager": pager(
                path,
                offsets,
                total=found.alerts.total,
                offset=alerts_offset,
                limit=size,
                name="alerts_offset",
            ),
            "events_pager": pager(
                path,
                offsets,
                total=found.events.total,
                offset=events_offset,
                limit=size,
                name="events_offset",
            ),
        },
    )
