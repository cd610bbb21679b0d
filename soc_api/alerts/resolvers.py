"""Alerts seen at a resolver belong to the host that asked.

A resolver forwards its clients' queries: on the wire beyond it (and in any rule reading that
leg) the resolver is the one asking, and a rule that fires there names the resolver, which is
infrastructure and never an attacker. Where the store holds the client's side of the same
names (the sensor's DNS event or Suricata's EVE ``dns`` record of the client's query to the
resolver, or a resolver's query log line, each carrying the client address), the alert is
attributed to the client that asked for most of them and placed with the client's agency, so
it joins the client's incident (and folds into the client's own alert of the same rule)
instead of being filed under the resolver's agency. Where no such record exists the alert
stays without an attacker, with the resolver's agency, as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from citysoc.core.ecs import Event, parse_timestamp
from eventstore.base import EventStore

log = logging.getLogger(__name__)

RESOLVER = "resolver"
LOOKBACK_EVENTS = 200_000  # the client's queries are looked for among this many recent events
MAX_NAMES = 500
BEFORE = timedelta(minutes=2)  # a client's query precedes its forward by at most this much
AFTER = timedelta(seconds=5)  # clocks of sensor and resolver may differ a little


@dataclass(frozen=True)
class Client:
    """The city host that asked a resolver for the names of an alert."""

    address: str
    agency: str
    segment: str
    level: int | None
    queries: int  # how many of the alert's names it asked for


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def forwarded_names(events: Sequence[Event]) -> tuple[set[str], list[str]]:
    """(resolver addresses, names) of the evidence's DNS queries sent by a resolver."""
    resolvers: set[str] = set()
    names: dict[str, None] = {}
    for event in events:
        name = event.get("dns.question.name")
        if name and event.get("citysoc.source.role") == RESOLVER and event.get("source.ip"):
            resolvers.add(str(event["source.ip"]))
            names[str(name).lower()] = None
    return resolvers, list(names)[:MAX_NAMES]


QUERY_LOGS = frozenset({"bind.query", "unbound.query", "dnsmasq.query"})  # a resolver's own


def _asked_a_resolver(event: Event, relays: set[str]) -> bool:
    return (
        event.get("citysoc.destination.role") == RESOLVER
        or str(event.get("destination.ip")) in relays
        or event.get("event.dataset") in QUERY_LOGS
    )


def client_of(store: EventStore, events: Sequence[Event]) -> Client | None:
    """The client behind a resolver's queries in ``events``, where the store shows one."""
    relays, names = forwarded_names(events)
    if not names:
        return None
    times = [parse_timestamp(str(e["@timestamp"])) for e in events if e.get("@timestamp")]
    if not times:
        return None
    start, end = min(times) - BEFORE, max(times) + AFTER
    upto = store.head()
    asked: Counter[str] = Counter()
    first: dict[str, Event] = {}
    for event in store.matching(
        "dns.question.name", names, after=max(0, upto - LOOKBACK_EVENTS), upto=upto
    ):
        client = event.get("source.ip")
        if not client or str(client) in relays or event.get("citysoc.source.role") == RESOLVER:
            continue  # a resolver forwarding again (a segment's resolver to the SOC's)
        if not _asked_a_resolver(event, relays) or not event.get("@timestamp"):
            continue
        if start <= parse_timestamp(str(event["@timestamp"])) <= end:
            asked[str(client)] += 1
            first.setdefault(str(client), event)
    if not asked:
        return None
    address, count = asked.most_common(1)[0]
    seen = first[address]
    agency = seen.get("citysoc.source.agency")
    if not agency:
        log.info("resolver alert: client %s is outside the city's topology", address)
        return None
    log.info("resolver alert attributed to %s (%d of %d names)", address, count, len(names))
    return Client(
        address=address,
        agency=str(agency),
        segment=str(seen.get("citysoc.source.segment", "unknown")),
        level=_int(seen.get("citysoc.source.level")),
        queries=count,
    )
