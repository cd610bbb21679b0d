"""``/api/v1/alerts``: list, detail with evidence and runbook, triage, bulk triage, export."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from soc_api.alerts.models import (
    AlertBulkUpdate,
    AlertDetail,
    AlertFilter,
    AlertPage,
    AlertPublic,
    AlertUpdate,
    BulkResult,
)
from soc_api.alerts.queries import (
    get_alert,
    list_alert_values,
    list_alerts,
    public_of,
    visible_evidence,
)
from soc_api.alerts.visibility import visible_alert, visible_alerts, visible_values
from soc_api.alerts.workflow import allowed_transitions, bulk_update, update_alert
from soc_api.audit import service as audit
from soc_api.deps import ContextDep, CurrentAnalyst, ObjectId, SessionDep
from soc_api.http_layer import values_response
from soc_api.runbooks import render_runbook

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

EXPORT_LIMIT = 10_000


@router.get("", response_model=AlertPage)
def get_alerts(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    filters: Annotated[AlertFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Alerts the caller may see, filtered; riskiest first unless ``sort`` says otherwise.

    In the thread pool like every endpoint that reads the state: on the event loop, a request
    waiting for a connection would hold up the very requests whose sessions the event loop
    closes to give connections back (docs/architecture.md, Requests and threads). The page is
    answered as plain values, an :class:`AlertPage` without a model for each alert."""
    total, rows = list_alert_values(
        session, who=analyst, filters=filters, limit=limit, offset=offset
    )
    items = visible_values(rows, who=analyst, topology=ctx.topology)
    return values_response({"total": total, "limit": limit, "offset": offset, "items": items})


@router.get("/export", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_alerts(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    filters: Annotated[AlertFilter, Query()],
) -> Response:
    """The filtered alerts as CSV (at most 10,000). Every export is written to the audit log."""
    total, rows = list_alerts(session, who=analyst, filters=filters, limit=EXPORT_LIMIT)
    out = io.StringIO()
    columns = list(AlertPublic.model_fields)
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in visible_alerts(rows, who=analyst, topology=ctx.topology):
        writer.writerow(row.model_dump(mode="json"))
    audit.append(
        session,
        actor=analyst.actor,
        action="alert.export",
        object_type="export",
        object_id="alerts",
        agency=analyst.agency,
        detail={
            "rows": len(rows),
            "total": total,
            "filters": filters.model_dump(mode="json", exclude_none=True),
        },
    )
    session.commit()
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="alerts.csv"'},
    )


@router.post("/bulk", response_model=BulkResult)
def bulk_alerts(session: SessionDep, analyst: CurrentAnalyst, body: AlertBulkUpdate) -> BulkResult:
    """One triage step for many alerts; the ones that cannot take it are listed in ``failed``."""
    change = AlertUpdate.model_validate(body.model_dump(exclude={"ids"}))
    result = bulk_update(session, alert_ids=body.ids, change=change, who=analyst)
    session.commit()
    return result


@router.get("/{alert_id:id}", response_model=AlertDetail)
def get_alert_detail(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, alert_id: ObjectId
) -> AlertDetail:
    """One alert with its evidence events and its runbook rendered for it."""
    alert = get_alert(session, alert_id=alert_id, who=analyst)
    public = visible_alert(public_of(alert), who=analyst, topology=ctx.topology)
    evidence, withheld = visible_evidence(ctx.store, alert.event_ids[:200], who=analyst)
    return AlertDetail.model_construct(  # our own values: built, not validated
        alert=public,
        evidence=evidence,
        evidence_withheld=withheld,
        runbook_markdown=render_runbook(alert.runbook, public),
        allowed_transitions=allowed_transitions(alert),
    )


@router.patch("/{alert_id:id}", response_model=AlertPublic)
def patch_alert(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    alert_id: ObjectId,
    change: AlertUpdate,
) -> AlertPublic:
    """Acknowledge, start, close (with a reason), reopen, assign or annotate an alert."""
    alert = update_alert(session, alert_id=alert_id, change=change, who=analyst)
    session.commit()
    return visible_alert(alert, who=analyst, topology=ctx.topology)
