"""Turn detection hits into alerts: deduplicated, placed in the city, scored."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.ecs import Event, parse_timestamp, timestamp
from detections.engine.runner import Hit
from eventstore.base import EventStore
from soc_api.alerts.models import SEVERITY_RISK, Alert, AlertStatus
from soc_api.alerts.observables import observables_of
from soc_api.alerts.resolvers import client_of
from soc_api.alerts.roles import INFRASTRUCTURE_ROLES, MAX_TARGETS, Roles, entity, roles_of

log = logging.getLogger(__name__)

MAX_EVIDENCE = 1000
"""Event ids an alert keeps as its evidence: a storm of a day at 5,000 events a second
must not make every fold rewrite a list of millions."""


def dedup_key(hit: Hit, attacker: str | None = None, agency: str = "") -> str:
    """One open alert per rule, attacker and agency (a scan of 80 cameras is one alert with
    80 targets); a hit without an attacker (from an infrastructure host, such as the VMS) is
    keyed by its whole group, and its agency: each agency told of it has its own alert."""
    if attacker:
        return f"{hit.rule.rule_id}|{attacker}|{agency}"
    key = hit.rule.rule_id + "|" + json.dumps(hit.group, sort_keys=True, default=str)
    return f"{key}|{agency}" if agency else key


def evidence_ids(ids: Sequence[str]) -> list[str]:
    """The event ids an alert keeps: all of them up to :data:`MAX_EVIDENCE`, else the first
    and the latest half each (its ``event_count`` still counts every event)."""
    if len(ids) <= MAX_EVIDENCE:
        return list(ids)
    half = MAX_EVIDENCE // 2
    return [*ids[:half], *ids[-half:]]


def _fold(alert: Alert, hit: Hit, roles: Roles, last: str, seen: dict[str, str]) -> None:
    """Fold a repeat into ``alert``; ``seen``: the hit's events' times by id."""
    if hit.rule.name != alert.rule_name and hit.rule.name not in (alert.also_rules or ()):
        alert.also_rules = [*(alert.also_rules or ()), hit.rule.name]
        alert.tags = list(dict.fromkeys([*(alert.tags or ()), *hit.rule.tags]))
    kept = set(alert.event_ids)
    fresh = [i for i in dict.fromkeys(hit.event_ids) if i not in kept]
    if len(kept) >= MAX_EVIDENCE and hit.rule.kind != "event":
        # a correlation's hit repeats its look-back: once the list is cut, only events
        # after the alert's last one are surely not counted yet
        fresh = [i for i in fresh if seen.get(i, "") > alert.last_seen]
    alert.event_ids = evidence_ids([*alert.event_ids, *fresh])
    alert.event_count = (alert.event_count or 0) + len(fresh)
    alert.last_seen = max(alert.last_seen, last)
    targets = list(dict.fromkeys([*(alert.targets or ()), *roles.targets]))
    alert.targets = targets[:MAX_TARGETS]
    alert.target_count = max(alert.target_count or 0, len(targets))
    alert.infrastructure = sorted({*(alert.infrastructure or ()), *roles.infrastructure})
    alert.fingerprints = list(dict.fromkeys([*(alert.fingerprints or ()), *roles.fingerprints]))


def _placement(entity: Sequence[str], evidence: Sequence[Event]) -> tuple[str, str, int | None]:
    """Agency, segment and level an alert belongs to.

    The owner of the first entity address inside the city (the camera under attack, the
    camera that misbehaves), else the agency most of the evidence belongs to.
    """
    if not evidence:
        return "unknown", "unknown", None
    for name in entity:
        side = name.removesuffix(".ip")
        if side in ("source", "destination"):
            first = evidence[0]
            agency = first.get(f"citysoc.{side}.agency")
            if agency:
                segment = str(first.get(f"citysoc.{side}.segment", "unknown"))
                return str(agency), segment, _int(first.get(f"citysoc.{side}.level"))
    agency = Counter(str(e.get("organization.id", "unknown")) for e in evidence).most_common(1)[0][
        0
    ]
    for event in evidence:
        if event.get("organization.id", "unknown") == agency:
            level = event.get("citysoc.security_level")
            return agency, str(event.get("citysoc.segment", "unknown")), _int(level)
    return agency, "unknown", None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def risk_score(severity: str, security_level: int | None) -> int:
    """Elastic-style risk by severity, raised for systems of a higher Decree 85 level."""
    base = SEVERITY_RISK.get(severity, 47)
    bump = 4 * ((security_level or 3) - 3)
    return max(1, min(100, base + bump))


Placement = tuple[str, str, int | None]


def victim_placements(
    rule_victim: str, events: Sequence[Event], attacker_agency: str
) -> list[tuple[Placement, list[Event]]]:
    """Agencies (with segment and level) owning the hosts an alert's evidence reached, other
    than the one the alert is placed with, each with the events that reached it: an attack
    from one agency's host on another's is told to both. The victim field names the side
    (``destination.ip`` by default); a host's own log (no such field) belongs to the host's
    agency. Infrastructure that only relayed the activity (a resolver asked for a tunnel's
    names, a collector) is no victim: its agency is not told."""
    side = rule_victim.removesuffix(".ip")
    found: dict[str, tuple[Placement, list[Event]]] = {}
    for event in events:
        if side in ("source", "destination") and event.get(rule_victim):
            if event.get(f"citysoc.{side}.role") in INFRASTRUCTURE_ROLES:
                continue
            agency = event.get(f"citysoc.{side}.agency")
            segment = event.get(f"citysoc.{side}.segment", "unknown")
            level = _int(event.get(f"citysoc.{side}.level"))
        else:
            agency = event.get("organization.id")
            segment = event.get("citysoc.segment", "unknown")
            level = _int(event.get("citysoc.security_level"))
        if not agency or str(agency) in (attacker_agency, "unknown"):
            continue
        if str(agency) not in found:
            found[str(agency)] = ((str(agency), str(segment), level), [])
        found[str(agency)][1].append(event)
    return list(found.values())


def _attributed(
    hit: Hit, events: Sequence[Event], roles: Roles, placed: Placement, store: EventStore | None
) -> tuple[Roles, Placement]:
    """An alert seen at a resolver goes to the client that asked, where the store shows it."""
    if roles.attacker is not None or store is None or hit.rule.rule_id.startswith("ioc-"):
        return roles, placed  # an IOC match stays where its TLP let it match
    client = client_of(store, events)
    if client is None:
        return roles, placed
    attacker = entity("source.ip", client.address)
    targets = tuple(t for t in roles.targets if t != attacker)
    return replace(roles, attacker=attacker, targets=targets), (
        client.agency,
        client.segment,
        client.level,
    )


def record_hits(
    session: Session,
    hits: Sequence[Hit],
    *,
    evidence: dict[str, Event],
    suppression: timedelta,
    store: EventStore | None = None,
) -> tuple[int, int]:
    """Create alerts for new hits, fold repeats into the open alert they repeat.

    A hit is placed with the agency of its first entity inside the city (the attacker's, for
    an attack from a city host; the asking client's, for queries a resolver forwarded, where
    ``store`` shows the client) and also told to every other agency whose hosts it reached:
    one alert per agency, each folding its own repeats and listing only the targets in that
    agency. Returns (created, updated).
    """
    created = updated = 0
    open_alerts: dict[str, Alert | None] = {}  # by dedup key, for this call
    for hit in hits:
        events = [evidence[i] for i in hit.event_ids if i in evidence]
        roles = roles_of(hit.rule, hit.group, events)
        roles, placed = _attributed(hit, events, roles, _placement(hit.rule.entity, events), store)
        told = [(placed, roles)]
        for placement, reached in victim_placements(hit.rule.victim, events, placed[0]):
            mine = roles_of(hit.rule, hit.group, reached).targets
            told.append((placement, replace(roles, targets=mine)))
        for placement, agency_roles in told:
            if _record(session, hit, events, agency_roles, placement, suppression, open_alerts):
                created += 1
            else:
                updated += 1
    return created, updated


def _times(events: Sequence[Event]) -> dict[str, str]:
    return {str(e.get("event.id")): str(e.get("@timestamp")) for e in events}


def _same_activity(
    session: Session, hit: Hit, roles: Roles, agency: str, first: str, suppression: timedelta
) -> Alert | None:
    """The open alert of the same attacker in the same agency that another rule raised on the
    same evidence, within the window, at least as severe: the hit is the same activity seen by
    one more rule (a Telnet sweep is both "Telnet from a camera" and "a remote-shell sweep"),
    and is folded into it rather than raised again. A more severe hit (brute force followed by
    a success) is raised on its own; IOC matches always are."""
    if roles.attacker is None or hit.rule.rule_id.startswith("ioc-"):
        return None
    since = timestamp((parse_timestamp(first) - suppression).timestamp())
    candidates = session.scalars(
        select(Alert)
        .where(
            Alert.attacker == roles.attacker,
            Alert.agency == agency,
            Alert.status != AlertStatus.CLOSED.value,
            Alert.last_seen >= since,
            Alert.rule_id != hit.rule.rule_id,
            Alert.rule_id.not_like("ioc-%"),
        )
        .order_by(Alert.id)
    ).all()
    rank = SEVERITY_RISK.get(hit.rule.level, 0)
    mine = set(hit.event_ids)
    for alert in candidates:
        if SEVERITY_RISK.get(alert.severity, 0) >= rank and mine & set(alert.event_ids):
            return alert
    return None


def _record(
    session: Session,
    hit: Hit,
    events: Sequence[Event],
    roles: Roles,
    placement: Placement,
    suppression: timedelta,
    open_alerts: dict[str, Alert | None],
) -> bool:
    """Fold the hit into the agency's open alert it repeats, or that another rule raised on
    the same evidence (False), or create one (True). ``open_alerts``: the open alert of each
    dedup key looked up so far in this run (a storm's thousands of hits a run look up and
    write back a few hundred alerts, not one each)."""
    times = sorted(str(e["@timestamp"]) for e in events) or [hit.first_seen, hit.last_seen]
    first, last = times[0], times[-1]
    agency, segment, level = placement
    key = dedup_key(hit, roles.attacker, agency)
    if key not in open_alerts:
        # folds change neither keys nor statuses: pending folds need not be written first
        with session.no_autoflush:
            open_alerts[key] = session.scalars(
                select(Alert)
                .where(Alert.dedup_key == key, Alert.status != AlertStatus.CLOSED.value)
                .order_by(Alert.id.desc())
                .limit(1)
            ).first()
    open_alert = open_alerts[key]
    if (
        open_alert is not None
        and parse_timestamp(first) - parse_timestamp(open_alert.last_seen) <= suppression
    ):
        _fold(open_alert, hit, roles, last, _times(events))
        return False
    same = _same_activity(session, hit, roles, agency, first, suppression)
    if same is not None:
        _fold(same, hit, roles, last, _times(events))
        return False
    alert = Alert(
        rule_id=hit.rule.rule_id,
        rule_name=hit.rule.name,
        title=hit.rule.title,
        severity=hit.rule.level,
        risk_score=risk_score(hit.rule.level, level),
        agency=agency,
        segment=segment,
        security_level=level,
        entity=hit.group,
        dedup_key=key,
        event_ids=evidence_ids(hit.event_ids),
        event_count=len(hit.event_ids),
        first_seen=first,
        last_seen=last,
        runbook=hit.rule.runbook,
        tags=list(hit.rule.tags),
        observables=observables_of(hit.group),
        attacker=roles.attacker,
        targets=list(roles.targets),
        target_count=len(roles.targets),
        infrastructure=list(roles.infrastructure),
        fingerprints=list(roles.fingerprints),
        tactic=roles.tactic,
    )
    session.add(alert)
    session.flush()
    open_alerts[key] = alert
    return True
