"""Pivot on one entity (an address, host, user, domain, hash or rule): its events, alerts and
incidents, when it was first and last seen, and which agencies saw it.

An agency's analyst sees their agencies' events and alerts; what other agencies saw is
reduced to counts (how many agencies, events and alerts), never their names, times or
records, as incident pages do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysoc.core.query import event_schema
from citysoc.core.query.tree import AnyOf, Condition, Equals, OneOf
from citysoc.core.topology import Topology
from eventstore.base import AgencySeen, EventStore
from soc_api.alerts.models import Alert, AlertFilter, AlertPage, SortKey
from soc_api.alerts.queries import alert_query, list_alerts
from soc_api.alerts.visibility import visible_alerts
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader
from soc_api.errors import InvalidRequestError
from soc_api.incidents.service import list_incidents, summarise
from soc_api.search.alert_sql import alert_schema
from soc_api.search.models import (
    MAX_QUERY,
    AgencySighting,
    EntityKind,
    EventPagePublic,
    OtherAgencies,
    PivotPublic,
)

MAX_VALUE = 256
MAX_EVIDENCE = 5000  # evidence ids of a rule's alerts read for its events
MAX_INCIDENTS = 100

# The event fields that hold each kind of entity (those of the ECS reference).
EVENT_FIELDS: dict[EntityKind, tuple[str, ...]] = {
    EntityKind.IP: (
        "source.ip",
        "destination.ip",
        "related.ip",
        "host.ip",
        "client.ip",
        "server.ip",
        "dns.resolved_ip",
    ),
    EntityKind.HOST: ("host.name", "host.hostname", "related.hosts", "observer.hostname"),
    EntityKind.USER: ("user.name", "related.user", "source.user.name", "destination.user.name"),
    EntityKind.DOMAIN: (
        "destination.domain",
        "source.domain",
        "url.domain",
        "dns.question.name",
        "tls.client.server_name",
        "related.hosts",
    ),
    EntityKind.HASH: (
        "file.hash.md5",
        "file.hash.sha1",
        "file.hash.sha256",
        "related.hash",
        "tls.server.hash.sha256",
        "tls.server.hash.sha1",
        "tls.server.hash.md5",
    ),
    EntityKind.RULE: ("rule.name",),
}
ENTITY_COLUMNS = ("attacker", "targets", "observables", "infrastructure")


def quoted(value: str) -> str:
    """A value as a quoted phrase of the query language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def checked(kind: EntityKind, value: str) -> str:
    """The entity's value as alerts write it, or InvalidRequestError."""
    value = value.strip()
    if not value or len(value) > MAX_VALUE:
        raise InvalidRequestError(f"a {kind.value} to pivot on has 1 to {MAX_VALUE} characters")
    if kind is EntityKind.IP:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidRequestError(f"{value!r} is not an IP address") from None
    return value if kind in (EntityKind.HASH, EntityKind.RULE) else value.lower()


def _link(text: str) -> str | None:
    """A query for a link to the queue or the event search, when it fits one."""
    return text if len(text) <= MAX_QUERY else None


def alert_condition(kind: EntityKind, value: str) -> tuple[Condition, str | None]:
    """The alerts naming the entity, and the same as a query for the queue."""
    fields = alert_schema().fields
    if kind is EntityKind.RULE:
        return Equals(fields["rule_name"], value), _link(f"rule_name:{quoted(value)}")
    entity = f"{kind.value}:{value}".lower()
    condition = AnyOf(tuple(Equals(fields[c], entity) for c in ENTITY_COLUMNS))
    text = " OR ".join(f"{column}:{quoted(entity)}" for column in ENTITY_COLUMNS)
    return condition, _link(text)


def event_condition(kind: EntityKind, value: str) -> tuple[Condition, str | None]:
    """The events holding the entity (not a rule: see :func:`_rule_events`), and the same as
    a query for the event search."""
    fields = event_schema().fields
    names = [f for f in EVENT_FIELDS[kind] if f in fields]
    condition = AnyOf(tuple(Equals(fields[name], value) for name in names))
    return condition, _link(" OR ".join(f"{name}:{quoted(value)}" for name in names))


@dataclass(frozen=True)
class Paging:
    limit: int = 25
    events_offset: int = 0
    alerts_offset: int = 0


def pivot(
    session: Session,
    store: EventStore,
    *,
    who: Principal,
    kind: EntityKind,
    value: str,
    paging: Paging,
    window: timedelta,
    names: Mapping[str, str],
    topology: Topology,
) -> PivotPublic:
    """What ``who`` may see about one entity (see the module); the hosts its alerts name are
    cut to the caller's agencies (``alerts.visibility``)."""
    require_reader(who)
    value = checked(kind, value)
    alerted, alert_q = alert_condition(kind, value)
    if kind is EntityKind.RULE:
        condition, event_q = _rule_events(session, value), None
    else:
        condition, event_q = event_condition(kind, value)
    filters = AlertFilter(sort=SortKey.NEWEST)
    alert_total, alerts = list_alerts(
        session,
        who=who,
        filters=filters,
        limit=paging.limit,
        offset=paging.alerts_offset,
        condition=alerted,
    )
    found = store.find(
        condition, agencies=who.agencies, limit=paging.limit, offset=paging.events_offset
    )
    mine, others = _sightings(session, store.seen_by(condition), alerted, who, names)
    alert_ids = set(_visible_alert_ids(session, alerted, who))
    incidents = [
        summarise(i)
        for i in list_incidents(session, who=who, window=window, names=names)
        if alert_ids & {a.id for a in i.alerts}
    ]
    firsts = [s.first_seen for s in mine if s.first_seen]
    lasts = [s.last_seen for s in mine if s.last_seen]
    return PivotPublic(
        kind=kind,
        value=value,
        alert_query=alert_q,
        event_query=event_q,
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        agencies=mine,
        other_agencies=others,
        events=EventPagePublic(
            total=found.total, limit=paging.limit, offset=paging.events_offset, items=found.events
        ),
        alerts=AlertPage(
            total=alert_total,
            limit=paging.limit,
            offset=paging.alerts_offset,
            items=visible_alerts(alerts, who=who, topology=topology),
        ),
        incidents=incidents[:MAX_INCIDENTS],
    )


def _rule_events(session: Session, value: str) -> Condition:
    # A rule's events: those its alerts rest on (of every agency: reads are cut by agency
    # afterwards), and any event naming the rule (a sensor's signature).
    ids: list[str] = []
    rows = session.scalars(
        select(Alert.event_ids).where(Alert.rule_name == value).order_by(Alert.id.desc())
    )
    for event_ids in rows:
        ids.extend(event_ids[: MAX_EVIDENCE - len(ids)])
        if len(ids) >= MAX_EVIDENCE:
            break
    schema = event_schema()
    return AnyOf(
        (
            Equals(schema.fields["rule.name"], value),
            OneOf(schema.fields["event.id"], tuple(dict.fromkeys(ids))),
        )
    )


def _visible_alert_ids(session: Session, alerted: Condition, who: Principal) -> Sequence[int]:
    dialect = session.get_bind().dialect.name
    query = alert_query(
        agencies=who.agencies, filters=AlertFilter(), dialect=dialect, condition=alerted
    )
    return session.scalars(query.with_only_columns(Alert.id).limit(MAX_EVIDENCE)).all()


@dataclass
class _Seen:
    events: int = 0
    alerts: int = 0
    first: str | None = None
    last: str | None = None

    def widen(self, first: str | None, last: str | None) -> None:
        self.first = min(x for x in (self.first, first) if x) if self.first or first else None
        self.last = max(x for x in (self.last, last) if x) if self.last or last else None


def _sightings(
    session: Session,
    events: list[AgencySeen],
    alerted: Condition,
    who: Principal,
    names: Mapping[str, str],
) -> tuple[list[AgencySighting], OtherAgencies | None]:
    """Per agency, its events and alerts of the entity: the caller's agencies in full, the
    others summed into counts."""
    dialect = session.get_bind().dialect.name
    every = alert_query(
        agencies=None, filters=AlertFilter(), dialect=dialect, condition=alerted
    ).subquery()
    rows = session.execute(
        select(
            every.c.agency, func.count(), func.min(every.c.first_seen), func.max(every.c.last_seen)
        ).group_by(every.c.agency)
    ).all()
    seen: dict[str, _Seen] = {}
    for found in events:
        seen[found.agency] = _Seen(events=found.events)
        seen[found.agency].widen(found.first_seen, found.last_seen)
    for agency, count, first, last in rows:
        entry = seen.setdefault(str(agency), _Seen())
        entry.alerts = int(count)
        entry.widen(first, last)
    mine: list[AgencySighting] = []
    other = OtherAgencies(agencies=0, events=0, alerts=0)
    for agency, entry in sorted(seen.items()):
        if who.agencies is None or agency in who.agencies:
            mine.append(
                AgencySighting(
                    agency=agency,
                    name=names.get(agency, agency),
                    events=entry.events,
                    alerts=entry.alerts,
                    first_seen=entry.first,
                    last_seen=entry.last,
                )
            )
        else:
            other.agencies += 1
            other.events += entry.events
            other.alerts += entry.alerts
    return mine, (other if other.agencies else None)
