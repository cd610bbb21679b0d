"""Incidents and campaigns, cut to what one caller may see.

An agency analyst sees an incident only when one of its alerts is their agency's, and then
only their agency's alerts, observables seen in them, and the number (not the names) of the
other agencies and their alerts. The city SOC sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import NotFoundError
from soc_api.alerts.models import SEVERITY_RISK, Alert, AlertPublic, CloseReason
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader
from soc_api.incidents.grouping import Group, group_alerts
from soc_api.incidents.models import IncidentPublic, IncidentSummary, TimelineEntry

MAX_ALERTS = 5000  # incidents are computed over the most recent alerts


def _candidates(session: Session) -> Sequence[Alert]:
    query = (
        select(Alert)
        .where(
            (Alert.close_reason.is_(None))
            | (Alert.close_reason != CloseReason.FALSE_POSITIVE.value)
        )
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
        .limit(MAX_ALERTS)
    )
    return session.scalars(query).all()


def _visible(group: Group, who: Principal) -> list[Alert]:
    if who.agencies is None:
        return list(group.alerts)
    return [a for a in group.alerts if a.agency in who.agencies]


def _title(group: Group, shared: list[str]) -> str:
    kind = "Campaign" if len(group.agencies) > 1 else "Incident"
    what = shared[0] if shared else group.alerts[0].rule_name
    return f"{kind}: {len(group.alerts)} alerts sharing {what}"


def _cut(group: Group, who: Principal) -> IncidentPublic | None:
    mine = _visible(group, who)
    if not mine:
        return None
    mine.sort(key=lambda a: (a.first_seen, a.id))
    seen = {o for a in mine for o in a.observables or ()}
    shared = [o for o in group.shared_observables() if o in seen]
    agencies = sorted({a.agency for a in mine})
    severity = max((a.severity for a in mine), key=lambda s: SEVERITY_RISK.get(s, 0))
    return IncidentPublic(
        id=group.id,
        title=_title(group, shared),
        campaign=len(group.agencies) > 1,
        severity=severity,
        first_seen=mine[0].first_seen,
        last_seen=max(a.last_seen for a in mine),
        agencies=agencies,
        other_agencies=len(group.agencies - set(agencies)),
        other_alerts=len(group.alerts) - len(mine),
        shared_observables=shared,
        alerts=[AlertPublic.model_validate(a) for a in mine],
        timeline=[
            TimelineEntry(
                at=a.first_seen, alert_id=a.id, title=a.title, agency=a.agency, severity=a.severity
            )
            for a in mine
        ],
    )


def list_incidents(
    session: Session, *, who: Principal, window: timedelta, campaigns_only: bool = False
) -> list[IncidentPublic]:
    require_reader(who)
    found = [_cut(g, who) for g in group_alerts(_candidates(session), window)]
    return [i for i in found if i is not None and (i.campaign or not campaigns_only)]


def summarise(incident: IncidentPublic) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        title=incident.title,
        campaign=incident.campaign,
        severity=incident.severity,
        first_seen=incident.first_seen,
        last_seen=incident.last_seen,
        agencies=incident.agencies,
        other_agencies=incident.other_agencies,
        alert_count=len(incident.alerts) + incident.other_alerts,
    )


def get_incident(
    session: Session, *, incident_id: int, who: Principal, window: timedelta
) -> IncidentPublic:
    for incident in list_incidents(session, who=who, window=window):
        if incident.id == incident_id:
            return incident
    raise NotFoundError(f"no incident {incident_id}")
