"""Incidents and campaigns, cut to what one caller may see.

An agency analyst sees an incident only when one of its alerts is their agency's, and then
only their agency's alerts, observables seen in them, and the number (not the names) of the
other agencies and their alerts. The city SOC sees everything. Titles are built from the
visible alerts only: the actor, then its steps in kill-chain order with their agency.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from citysoc.core.ecs import timestamp
from citysoc.core.errors import NotFoundError
from soc_api.alerts.models import SEVERITY_RISK, Alert, AlertPublic, CloseReason
from soc_api.audit import service as audit
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader, require_triager
from soc_api.errors import InvalidRequestError
from soc_api.incidents.grouping import Group, group_alerts, stage, target_views
from soc_api.incidents.models import (
    IncidentNote,
    IncidentNoteCreate,
    IncidentNotePublic,
    IncidentPublic,
    IncidentSummary,
    TargetView,
    TimelineEntry,
)
from soc_api.state_cache import StateCache

MAX_ALERTS = 5000  # incidents are computed over the most recent alerts
MAX_STEPS = 4  # steps named in a title
INCIDENTS = StateCache()  # groups, incidents and target views, once per state of the alerts


def _candidates(session: Session) -> Sequence[Alert]:
    """The most recent alerts but false positives, without their event ids: incidents never
    read them, and the groups are kept (``INCIDENTS``) while a storm's alerts hold up to
    ``MAX_EVIDENCE`` ids each."""
    query = (
        select(Alert)
        .options(defer(Alert.event_ids, raiseload=True))
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


def _bare(entity: str) -> str:
    return entity.partition(":")[2] or entity


def _title(group: Group, mine: list[Alert], names: Mapping[str, str]) -> str:
    """``203.0.113.77: <step> in <agency> → <step> (+2) in <agency>``, from visible alerts only.

    One step per agency, in kill-chain order: the agency's most severe alert, with the number
    of its other alerts.
    """
    actors = list(dict.fromkeys(a.attacker for a in mine if a.attacker))
    per_agency: dict[str, list[Alert]] = {}
    for alert in mine:  # already in kill-chain order
        per_agency.setdefault(alert.agency, []).append(alert)
    steps = []
    for agency, alerts in per_agency.items():
        top = max(alerts, key=lambda a: SEVERITY_RISK.get(a.severity, 0))
        more = f" (+{len(alerts) - 1})" if len(alerts) > 1 else ""
        steps.append(f"{top.title}{more} in {names.get(agency, agency)}")
    hidden = len(group.agencies - set(per_agency))
    text = " → ".join(steps[:MAX_STEPS])
    if len(steps) > MAX_STEPS:
        text += f" (+{len(steps) - MAX_STEPS} agencies)"
    if hidden:
        text += f" → {hidden} other agenc{'y' if hidden == 1 else 'ies'}"
    who = ", ".join(_bare(a) for a in actors[:2]) or "No attacker named"
    return f"{who}: {text}"


def _links(group: Group, mine: list[Alert]) -> list[str]:
    """The group's links a caller may see: fingerprints in their alerts, pivots from them."""
    fingerprints = {f for a in mine for f in a.fingerprints or ()}
    attackers = {a.attacker for a in mine if a.attacker}
    return sorted(
        link
        for link in group.links
        if link in fingerprints or link.removeprefix("pivot:") in attackers
    )


def _notes(session: Session, alerts: Sequence[Alert]) -> dict[int, list[IncidentNote]]:
    """Notes by the alert they are anchored on."""
    found: dict[int, list[IncidentNote]] = {}
    ids = [a.id for a in alerts]
    for start in range(0, len(ids), 900):
        query = select(IncidentNote).where(IncidentNote.alert_id.in_(ids[start : start + 900]))
        for note in session.scalars(query.order_by(IncidentNote.id)):
            found.setdefault(note.alert_id, []).append(note)
    return found


def _cut(
    group: Group,
    who: Principal,
    names: Mapping[str, str] | None = None,
    notes: Mapping[int, list[IncidentNote]] | None = None,
) -> IncidentPublic | None:
    mine = _visible(group, who)
    if not mine:
        return None
    kept = sorted((n for a in mine for n in (notes or {}).get(a.id, ())), key=lambda n: n.id)
    assigned = [n.assignee for n in kept if n.assignee is not None]
    mine.sort(key=lambda a: (stage(a), a.first_seen, a.id))
    seen = {o for a in mine for o in (*(a.observables or ()), a.attacker) if o}
    links = _links(group, mine)
    shared = [o for o in group.shared_observables() if o in seen or o in links]
    agencies = sorted({a.agency for a in mine})
    severity = max((a.severity for a in mine), key=lambda s: SEVERITY_RISK.get(s, 0))
    return IncidentPublic(
        id=group.id,
        title=_title(group, mine, names or {}),
        campaign=len(group.agencies) > 1,
        severity=severity,
        first_seen=min(a.first_seen for a in mine),
        last_seen=max(a.last_seen for a in mine),
        agencies=agencies,
        other_agencies=len(group.agencies - set(agencies)),
        other_alerts=len(group.alerts) - len(mine),
        shared_observables=shared,
        actor=next((a.attacker for a in mine if a.attacker), None),
        links=links,
        assignee=(assigned[-1] or None) if assigned else None,
        notes=[IncidentNotePublic.model_validate(n) for n in kept],
        alerts=[AlertPublic.model_validate(a) for a in mine],
        timeline=[
            TimelineEntry(
                at=a.first_seen,
                alert_id=a.id,
                title=a.title,
                agency=a.agency,
                severity=a.severity,
                tactic=a.tactic or "",
                attacker=a.attacker,
                target_count=a.target_count or 0,
            )
            for a in mine
        ],
    )


def list_incidents(
    session: Session,
    *,
    who: Principal,
    window: timedelta,
    campaigns_only: bool = False,
    names: Mapping[str, str] | None = None,
) -> list[IncidentPublic]:
    """Every incident the caller has a part in; ``names`` gives agencies' display names."""
    require_reader(who)
    agencies = None if who.agencies is None else tuple(sorted(who.agencies))
    named = tuple(sorted((names or {}).items()))

    def cut(reader: Session) -> list[IncidentPublic]:
        groups, notes = _grouped(reader, window)
        found = (_cut(g, who, names, notes) for g in groups)
        return [i for i in found if i is not None]

    every = INCIDENTS.get(session, ("incidents", window, agencies, named), cut)
    return [i for i in every if i.campaign or not campaigns_only]


def _grouped(
    session: Session, window: timedelta
) -> tuple[list[Group], dict[int, list[IncidentNote]]]:
    """The candidate alerts' groups and notes, kept while the alerts stay as they are (see
    ``INCIDENTS``); read only."""

    def compute(reader: Session) -> tuple[list[Group], dict[int, list[IncidentNote]]]:
        alerts = _candidates(reader)
        return group_alerts(alerts, window), _notes(reader, alerts)

    return INCIDENTS.get(session, ("groups", window), compute)


def list_targets(session: Session, *, who: Principal, window: timedelta) -> list[TargetView]:
    """Victims reached by two or more incidents, as far as the caller's alerts show them."""
    require_reader(who)
    agencies = None if who.agencies is None else tuple(sorted(who.agencies))
    key = ("targets", window, agencies)
    return list(
        INCIDENTS.get(session, key, lambda reader: _targets(reader, who=who, window=window))
    )


def _targets(session: Session, *, who: Principal, window: timedelta) -> list[TargetView]:
    views: list[TargetView] = []
    # each group's visible alerts by the targets they reached, made once per group (not once
    # per target and group: an actor's group may hold thousands of alerts and targets)
    reach: dict[int, tuple[int, dict[str, list[Alert]]]] = {}

    def reached(group: Group) -> tuple[int, dict[str, list[Alert]]]:
        if id(group) not in reach:
            by_target: dict[str, list[Alert]] = {}
            for alert in _visible(group, who):
                for target in dict.fromkeys(alert.targets or ()):
                    by_target.setdefault(target, []).append(alert)
            reach[id(group)] = (group.id, by_target)
        return reach[id(group)]

    for target, groups in target_views(_grouped(session, window)[0]).items():
        seen: list[tuple[int, list[Alert]]] = []
        for group in groups:
            group_id, by_target = reached(group)
            reaching = by_target.get(target, [])
            if reaching:
                seen.append((group_id, reaching))
        if len(seen) < 2:
            continue
        alerts = [a for _, reaching in seen for a in reaching]
        views.append(
            TargetView(
                target=target,
                incidents=sorted(i for i, _ in seen),
                actors=sorted({a.attacker for a in alerts if a.attacker}),
                agencies=sorted({a.agency for a in alerts}),
            )
        )
    views.sort(key=lambda v: (-len(v.incidents), v.target))
    return views


def summarise(incident: IncidentPublic) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id,
        title=incident.title,
        actor=incident.actor,
        campaign=incident.campaign,
        severity=incident.severity,
        first_seen=incident.first_seen,
        last_seen=incident.last_seen,
        agencies=incident.agencies,
        other_agencies=incident.other_agencies,
        alert_count=len(incident.alerts) + incident.other_alerts,
    )


def get_incident(
    session: Session,
    *,
    incident_id: int,
    who: Principal,
    window: timedelta,
    names: Mapping[str, str] | None = None,
) -> IncidentPublic:
    for incident in list_incidents(session, who=who, window=window, names=names):
        if incident.id == incident_id:
            return incident
    raise NotFoundError(f"no incident {incident_id}")


def annotate_incident(
    session: Session,
    *,
    incident_id: int,
    who: Principal,
    window: timedelta,
    change: IncidentNoteCreate,
) -> IncidentNotePublic:
    """Add a note or an assignment (an empty assignee unassigns) to an incident one may see.

    The note is anchored on the first alert of the incident the writer may see, so it
    follows that alert through any regrouping.
    """
    require_triager(who)
    if not change.note.strip() and change.assignee is None:
        raise InvalidRequestError("give a note, an assignee, or both")
    incident = get_incident(session, incident_id=incident_id, who=who, window=window)
    anchor = min(a.id for a in incident.alerts)
    agency = next(a.agency for a in incident.alerts if a.id == anchor)
    note = IncidentNote(
        alert_id=anchor,
        note=change.note.strip(),
        assignee=change.assignee,
        author=who.actor,
        created_at=timestamp(time.time()),
    )
    session.add(note)
    session.flush()
    audit.append(
        session,
        actor=who.actor,
        action="incident.note",
        object_type="incident",
        object_id=incident_id,
        agency=agency,
        detail={"alert": anchor, "assignee": change.assignee, "note": bool(note.note)},
    )
    return IncidentNotePublic.model_validate(note)
