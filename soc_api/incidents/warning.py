"""Early warning: an outside actor seen by one agency is shared with every other, then hunted.

When an alert names an attacker address from the internet, the city SOC shares it as an IOC
(TLP:AMBER, its audience every agency that has not yet seen the actor): their analysts see the
indicator and the techniques, never the events of the agency that saw it first. The new IOC is
then swept over the recent past of the store (the retro-hunt): matches raise alerts in the
agencies the TLP lets see it, and those alerts name the same attacker, so incidents join them
to the actor's campaign. The agencies that saw the actor are hunted too, for its earlier visits
there: events naming its address from before its first alert in that agency, of connections no
alert holds (they know the actor already, so nothing is disclosed). Each actor is shared once; later
matches come from the regular sweep.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from citysoc.core.ecs import Event
from detections.engine.runner import Hit
from eventstore.base import EventStore
from soc_api.alerts.models import SEVERITY_RISK, Alert, CloseReason
from soc_api.alerts.service import record_hits
from soc_api.auth.models import Principal, Role
from soc_api.iocs.models import Ioc, IocCreate, IocKind, Tlp
from soc_api.iocs.service import add_ioc
from soc_api.iocs.sweep import MAX_EVENTS_PER_HIT, ioc_rule, sweep

log = logging.getLogger(__name__)

SOURCE = "early-warning"
SYSTEM = Principal(user_id=0, username=SOURCE, role=Role.CITY_ANALYST, agency=None)
RETRO_HUNT_EVENTS = 200_000  # the retro-hunt sweeps this many most recent events
MAX_ACTORS_PER_RUN = 200
EVIDENCE_PEEK = 20  # evidence events read to tell an outside attacker from an inside one
RECENT_ALERTS = 5000  # actors are looked for among the most recent alerts
KNOWN_EVENTS = 5000  # evidence read to know which connections an actor's alerts hold


@dataclass(frozen=True)
class WarningReport:
    shared: int  # new indicators shared
    hunted: int  # alerts the retro-hunt raised


def _outside(store: EventStore, alert: Alert, address: str) -> bool:
    """Whether the enrichment placed the attacker address on the internet."""
    for event in store.get(alert.event_ids[:EVIDENCE_PEEK]):
        for side in ("source", "destination"):
            if event.get(f"{side}.ip") == address:
                return bool(event.get(f"citysoc.{side}.zone") == "internet")
    return False


def _actors(session: Session) -> dict[str, list[Alert]]:
    """Alerts (but false positives) per attacker address the city SOC holds no IOC of yet."""
    shared = set(
        session.scalars(
            select(Ioc.value).where(Ioc.owner_agency.is_(None), Ioc.kind == IocKind.IP.value)
        ).all()
    )
    rows = session.scalars(
        select(Alert)
        .options(defer(Alert.event_ids))  # read only for the few actors not yet shared
        .where(
            Alert.attacker.like("ip:%"),
            (Alert.close_reason.is_(None))
            | (Alert.close_reason != CloseReason.FALSE_POSITIVE.value),
        )
        .order_by(Alert.id.desc())
        .limit(RECENT_ALERTS)
    ).all()
    found: dict[str, list[Alert]] = defaultdict(list)
    for alert in reversed(rows):
        address = (alert.attacker or "").removeprefix("ip:")
        if address not in shared and not alert.rule_id.startswith("ioc-"):
            found[address].append(alert)
    return found


def _describe(alerts: Sequence[Alert]) -> str:
    steps = list(dict.fromkeys(f"{a.title} ({(a.tactic or 'unknown').replace('_', ' ')})"
                               for a in alerts))  # fmt: skip
    first = min(a.first_seen for a in alerts)
    return f"Early warning: seen in the city since {first[:19]}Z: " + "; ".join(steps[:5])


def warn_and_hunt(
    session: Session,
    store: EventStore,
    *,
    agencies: Sequence[str],
    suppression: timedelta,
) -> WarningReport:
    """Share every new outside attacker with the agencies that have not seen it, then hunt."""
    created: list[tuple[Ioc, list[Alert]]] = []
    for address, alerts in list(_actors(session).items())[:MAX_ACTORS_PER_RUN]:
        if not _outside(store, alerts[0], address):
            continue
        seen_by = {a.agency for a in alerts}
        audience = [a for a in agencies if a not in seen_by]
        severity = max((a.severity for a in alerts), key=lambda s: SEVERITY_RISK.get(s, 0))
        data = IocCreate(
            kind=IocKind.IP,
            value=address,
            tlp=Tlp.AMBER,
            audience=audience[:50],
            severity=severity,
            description=_describe(alerts)[:2000],
        )
        ioc, new = add_ioc(session, data=data, who=SYSTEM, source=SOURCE)
        if new:
            created.append((ioc, alerts))
    if not created:
        return WarningReport(shared=0, hunted=0)
    upto = store.head()
    after = max(0, upto - RETRO_HUNT_EVENTS)
    iocs = [ioc for ioc, _ in created]
    hunted = sweep(session, store, after=after, upto=upto, iocs=iocs, suppression=suppression)
    earlier = [
        h for ioc, alerts in created for h in _earlier_visits(store, ioc, alerts, after, upto)
    ]
    if earlier:
        evidence = {
            str(e["event.id"]): e for e in store.get([i for h in earlier for i in h.event_ids])
        }
        hunted += record_hits(session, earlier, evidence=evidence, suppression=suppression)[0]
    log.info("early warning: %d actors shared, retro-hunt raised %d alerts", len(created), hunted)
    return WarningReport(shared=len(created), hunted=hunted)


def _earlier_visits(
    store: EventStore, ioc: Ioc, alerts: Sequence[Alert], after: int, upto: int
) -> list[Hit]:
    """The actor in the agencies that saw it, before its first alert there: stored events
    naming its address that no alert of the actor holds, one hit per agency and side."""
    first: dict[str, str] = {}
    for alert in alerts:
        first[alert.agency] = min(first.get(alert.agency, alert.first_seen), alert.first_seen)
    known = {i for a in alerts for i in a.event_ids}
    # connections an alert already holds: a flow's record starts before the rule's first event
    flows = {e.get("network.community_id") for e in store.get(list(known)[:KNOWN_EVENTS])}
    flows.discard(None)
    hits = []
    for field in ("source.ip", "destination.ip"):
        found: dict[str, list[Event]] = defaultdict(list)
        read = (field, "@timestamp", "organization.id", "network.community_id")
        for event in store.matching(field, [ioc.value], after=after, upto=upto, fields=read):
            agency = str(event.get("organization.id"))
            stamp = str(event.get("@timestamp", ""))
            if agency not in first or stamp >= first[agency] or str(event["event.id"]) in known:
                continue
            if event.get("network.community_id") not in flows:
                found[agency].append(event)
        for agency, events in found.items():
            events = events[:MAX_EVENTS_PER_HIT]
            stamps = sorted(str(e["@timestamp"]) for e in events)
            hits.append(
                Hit(
                    rule=ioc_rule(ioc, field),
                    event_ids=tuple(str(e["event.id"]) for e in events),
                    group={field: ioc.value, "organization.id": agency},
                    first_seen=stamps[0],
                    last_seen=stamps[-1],
                )
            )
    return hits
