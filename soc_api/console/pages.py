"""Console pages past the queue: alert detail and triage, incidents, IOCs, rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc_api.alerts.models import AlertStatus, AlertUpdate, CloseReason
from soc_api.alerts.queries import get_alert, visible_evidence
from soc_api.alerts.visibility import visible_alert
from soc_api.alerts.workflow import allowed_transitions, update_alert
from soc_api.audit import service as audit
from soc_api.auth.models import TRIAGERS
from soc_api.cases.views import case_of_incident
from soc_api.console.common import check_csrf, render
from soc_api.console.graph import HEIGHT, WIDTH, agency_graph
from soc_api.console.views import Csrf, require_console_user, to_login
from soc_api.deps import ContextDep, MaybeAnalyst, ObjectId, SessionDep
from soc_api.incidents.models import IncidentNoteCreate
from soc_api.incidents.service import (
    annotate_incident,
    get_incident,
    list_incidents,
    list_targets,
)
from soc_api.incidents.views import agency_names
from soc_api.incidents.visibility import visible_incident, visible_targets
from soc_api.iocs.models import IocCreate, IocKind, Tlp
from soc_api.iocs.service import create_ioc, list_iocs
from soc_api.iocs.views import retro_sweep
from soc_api.rules.service import rule_catalog
from soc_api.runbooks import render_runbook

router = APIRouter(include_in_schema=False)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    alert_id: ObjectId,
) -> Response:
    if analyst is None:
        return to_login()
    alert = get_alert(session, alert_id=alert_id, who=analyst)
    public = visible_alert(alert, who=analyst, topology=ctx.topology)
    evidence, withheld = visible_evidence(ctx.store, alert.event_ids[:100], who=analyst)
    _, history = audit.list_entries(
        session, agencies=None, object_type="alert", object_id=str(alert.id), limit=50
    )
    return render(
        request,
        "alert.html",
        {
            "analyst": analyst,
            "alert": public,
            "evidence": evidence,
            "evidence_withheld": withheld,
            "runbook": render_runbook(alert.runbook, public),
            "history": history,
            "transitions": allowed_transitions(alert),
            "reasons": list(CloseReason),
        },
    )


@router.post("/alerts/{alert_id}/triage")
def triage(
    request: Request,
    session: SessionDep,
    analyst: MaybeAnalyst,
    alert_id: ObjectId,
    csrf: Csrf,
    status: Annotated[AlertStatus | None, Form()] = None,
    close_reason: Annotated[CloseReason | None, Form()] = None,
    note: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    change = AlertUpdate(status=status, close_reason=close_reason, note=note or None)
    update_alert(session, alert_id=alert_id, change=change, who=who)
    session.commit()
    target = "/alerts" if back == "queue" else f"/alerts/{alert_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst
) -> Response:
    if analyst is None:
        return to_login()
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    found = list_incidents(session, who=analyst, window=window, names=agency_names(ctx))
    found = [visible_incident(i, who=analyst, topology=ctx.topology) for i in found[:200]]
    targets = visible_targets(
        list_targets(session, who=analyst, window=window), who=analyst, topology=ctx.topology
    )
    return render(
        request,
        "incidents.html",
        {"analyst": analyst, "incidents": found[:200], "targets": targets[:50]},
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    incident_id: ObjectId,
) -> Response:
    if analyst is None:
        return to_login()
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    incident = get_incident(
        session, incident_id=incident_id, who=analyst, window=window, names=agency_names(ctx)
    )
    incident = visible_incident(incident, who=analyst, topology=ctx.topology)
    per_agency: dict[str, int] = {}
    for alert in incident.alerts:
        per_agency[alert.agency] = per_agency.get(alert.agency, 0) + 1
    centre, nodes = agency_graph(per_agency, incident.other_agencies, incident.other_alerts)
    return render(
        request,
        "incident.html",
        {
            "analyst": analyst,
            "incident": incident,
            "centre": centre,
            "nodes": nodes,
            "width": WIDTH,
            "height": HEIGHT,
            "may_annotate": analyst.role in TRIAGERS and analyst.token_scope is None,
            "case_id": case_of_incident(session, incident_id=incident_id, who=analyst, span=window),
        },
    )


@router.post("/incidents/{incident_id}/notes")
def incident_note_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    incident_id: ObjectId,
    note: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A note or an assignment on an incident, from its page (as the API's notes route)."""
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    change = IncidentNoteCreate(note=note, assignee=assignee.strip() or None)
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    annotate_incident(session, incident_id=incident_id, who=who, window=window, change=change)
    session.commit()
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


@router.get("/iocs", response_class=HTMLResponse)
def iocs_page(request: Request, session: SessionDep, analyst: MaybeAnalyst) -> Response:
    if analyst is None:
        return to_login()
    total, iocs = list_iocs(session, who=analyst, limit=500)
    return render(
        request,
        "iocs.html",
        {
            "analyst": analyst,
            "iocs": iocs,
            "total": total,
            "kinds": list(IocKind),
            "tlps": list(Tlp),
        },
    )


@router.post("/iocs")
def add_ioc_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    kind: Annotated[IocKind, Form()],
    value: Annotated[str, Form(max_length=512)],
    tlp: Annotated[Tlp, Form()],
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    data = IocCreate(kind=kind, value=value, tlp=tlp, description=description)
    ioc = create_ioc(session, data=data, who=who)
    retro_sweep(ctx, session, [ioc])
    session.commit()
    return RedirectResponse("/iocs", status_code=303)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(
    request: Request, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst
) -> Response:
    if analyst is None:
        return to_login()
    catalog = rule_catalog(session, rules=ctx.rules, errors=ctx.rule_errors, who=analyst)
    return render(request, "rules.html", {"analyst": analyst, "catalog": catalog})
