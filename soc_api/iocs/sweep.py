"""Match IOCs against stored events and raise alerts.

Runs in the detection schedule over each new slice of events, and over the recent past when
IOCs are added. An IOC only matches events of agencies its TLP label lets see it, so an
alert never discloses an indicator to an agency that may not know it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.engine.compiler import CompiledRule
from detections.engine.runner import Hit
from eventstore.base import EventStore
from soc_api.alerts.service import record_hits
from soc_api.iocs.models import Ioc, IocKind, Tlp, split_audience
from soc_api.iocs.tlp import agency_may_see

log = logging.getLogger(__name__)

FIELDS: dict[IocKind, tuple[str, ...]] = {
    IocKind.IP: ("source.ip", "destination.ip", "host.ip", "client.ip", "server.ip"),
    IocKind.DOMAIN: ("dns.question.name", "url.domain", "destination.domain", "server.domain"),
    IocKind.URL: ("url.full", "url.original"),
    IocKind.SHA256: ("file.hash.sha256",),
    IocKind.SHA1: ("file.hash.sha1",),
    IocKind.MD5: ("file.hash.md5",),
    IocKind.USER: ("user.name",),
}
MAX_EVENTS_PER_HIT = 500
MATCH_FIELDS = ("@timestamp", "organization.id")
"""What a sweep reads of each matching event besides its id and the matched field: a busy
slice matches tens of thousands of events, read whole they held a run's memory."""


def ioc_rule(ioc: Ioc, field: str) -> CompiledRule:
    return CompiledRule(
        rule_id=f"ioc-{ioc.id}",
        name=f"ioc_match_{ioc.kind}",
        title=f"Known-bad {ioc.kind} seen ({ioc.value[:80]})",
        level=ioc.severity,
        kind="event",
        sql="",
        fields=(field,),
        entity=(field,),
        tags=("ioc", f"tlp.{ioc.tlp.lower()}"),
        description=ioc.description,
        attacker=field,  # the known-bad entity is the actor; the city host beside it, its target
        victim="destination.ip" if field == "source.ip" else "source.ip",
    )


def _matches(
    store: EventStore, field: str, values: Sequence[str], after: int, upto: int
) -> list[tuple[str, str, str, str]]:
    """(event id, timestamp, agency, matched value) of events in the slice with the field."""
    wanted = set(values)
    found = []
    for event in store.matching(
        field, values, after=after, upto=upto, fields=(field, *MATCH_FIELDS)
    ):
        value = event.get(field)
        for one in value if isinstance(value, list) else [value]:
            if str(one).lower() in wanted:
                found.append((str(event["event.id"]), str(event["@timestamp"]),
                              str(event.get("organization.id")), str(one).lower()))  # fmt: skip
                break
    return found


def sweep(
    session: Session,
    store: EventStore,
    *,
    after: int,
    upto: int,
    suppression: timedelta,
    iocs: Sequence[Ioc] | None = None,
) -> int:
    """Raise (or fold into open) alerts for IOC matches among events ``after < seq <= upto``."""
    if iocs is None:
        iocs = session.scalars(select(Ioc).where(Ioc.active.is_(True))).all()
    if not iocs or upto <= after:
        return 0
    by_value: dict[tuple[str, str], list[Ioc]] = defaultdict(list)
    for ioc in iocs:
        by_value[(ioc.kind, ioc.value.lower())].append(ioc)
    hits: list[Hit] = []
    for kind, fields in FIELDS.items():
        values = sorted({v for (k, v) in by_value if k == kind.value})
        for field in (f for f in fields if values):
            hits += _hits(store, field, kind, values, by_value, after, upto)
    if not hits:
        return 0
    evidence = {str(e["event.id"]): e for e in store.get([i for h in hits for i in h.event_ids])}
    created, updated = record_hits(session, hits, evidence=evidence, suppression=suppression)
    log.info("IOC sweep: %d matches, %d alerts raised, %d updated", len(hits), created, updated)
    return created


def _hits(
    store: EventStore,
    field: str,
    kind: IocKind,
    values: Sequence[str],
    by_value: dict[tuple[str, str], list[Ioc]],
    after: int,
    upto: int,
) -> list[Hit]:
    groups: dict[tuple[int, str, str], list[tuple[str, str]]] = defaultdict(list)
    for event_id, stamp, agency, value in _matches(store, field, values, after, upto):
        for ioc in by_value.get((kind.value, value), ()):
            if agency_may_see(Tlp(ioc.tlp), ioc.owner_agency, split_audience(ioc.audience), agency):
                groups[(ioc.id, agency, value)].append((event_id, stamp))
    iocs = {i.id: i for found in by_value.values() for i in found}
    hits = []
    for (ioc_id, agency, value), events in groups.items():
        events = events[:MAX_EVENTS_PER_HIT]
        stamps = sorted(s for _, s in events)
        hits.append(
            Hit(
                rule=ioc_rule(iocs[ioc_id], field),
                event_ids=tuple(e for e, _ in events),
                group={field: value, "organization.id": agency},
                first_seen=stamps[0],
                last_seen=stamps[-1],
            )
        )
    return hits
