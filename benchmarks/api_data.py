"""Data of the SOC API benchmark: a large event store, built once and kept, and alerts over it.

The event store is ``benchmarks/out/api/events-<N>.db`` (git-ignored). It is written in
batches that each commit, from a generator that depends only on the event's number, so an
interrupted build resumes where it stopped (``.partial`` until complete, then renamed) and
every run of the benchmark reads the same events. The alerts (100,000 by default) are made
afresh in each run's SOC state, each resting on events of that store: its evidence, attacker
and targets are those events' addresses, its times theirs.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from citysoc.core.ecs import Event, event_id, timestamp
from eventstore.sqlite import SqliteEventStore
from soc_api.alerts.entity_keys import ROLES, entity_rows
from soc_api.alerts.models import AlertEntity

log = logging.getLogger("bench_api")

OUT = Path(__file__).resolve().parent / "out" / "api"
START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
SPAN = 30 * 86400  # the events cover thirty days, whatever their number
BATCH = 20_000
# (agency, segment, first three octets, hosts): where the city's events come from
PLACES = (
    ("d1", "cam-d1", "10.31.0", 250),
    ("d1", "cam-d1", "10.31.1", 250),
    ("tanbinh", "cam-tanbinh", "10.32.0", 250),
    ("tanbinh", "cam-tanbinh", "10.32.1", 250),
    ("dc", "dc-dmz", "10.10.0", 60),
    ("dc", "dc-app", "10.10.1", 60),
    ("ioc", "ioc", "10.20.0", 120),
    ("drainage", "ics-flood", "10.40.0", 40),
    ("dot", "ics-traffic", "10.41.0", 80),
    ("dic", "soc", "10.50.0", 20),
)
ATTACKERS = 5_000  # outside addresses, 203.0.113.x and 198.51.100.x and beyond


def attacker_ip(n: int) -> str:
    return f"203.{n // 256 % 256}.{113 + n // 65536}.{n % 256}"


class Draws:
    """Numbers drawn from an event's own number alone (a 64-bit mix of it), so that any
    event can be made again without the ones before it."""

    def __init__(self, seed: int) -> None:
        x = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
        self.bits = x ^ (x >> 31)

    def below(self, n: int) -> int:
        self.bits, value = divmod(self.bits, n)
        return value


MASK = 2**64 - 1


def city_event(i: int, total: int) -> Event:
    """Event number ``i`` of ``total``: a flow, DNS, HTTP, RTSP or sshd event of one agency."""
    draw = Draws(i)
    agency, segment, prefix, hosts = PLACES[draw.below(len(PLACES))]
    host = f"{prefix}.{1 + draw.below(hosts)}"
    outside = attacker_ip(draw.below(ATTACKERS))
    inside = f"10.20.0.{1 + draw.below(120)}"
    event: Event = {
        "event.id": event_id("bench-api", i),
        "@timestamp": timestamp(START + i * SPAN / total),
        "event.kind": "event",
        "organization.id": agency,
        "citysoc.segment": segment,
        "source.ip": outside if draw.below(10) < 3 else inside,
        "destination.ip": host,
    }
    kind = i % 5
    if kind == 0:
        event |= {"event.action": "network_flow", "event.dataset": "network_traffic.flow",
                  "network.transport": "tcp", "destination.port": 554,
                  "network.bytes": 200 + draw.below(200_000)}  # fmt: skip
    elif kind == 1:
        event |= {"event.action": "dns_query", "event.dataset": "network_traffic.dns",
                  "dns.question.name": f"svc{draw.below(500)}.city.example"}  # fmt: skip
    elif kind == 2:
        event |= {"event.action": "http_request", "event.dataset": "network_traffic.http",
                  "url.path": f"/api/v{draw.below(3)}/items/{draw.below(10_000)}",
                  "http.response.status_code": (200, 200, 404, 401)[draw.below(4)]}  # fmt: skip
    elif kind == 3:
        event |= {"event.action": "rtsp_request", "event.dataset": "network_traffic.rtsp",
                  "rtsp.request.method": "DESCRIBE", "network.protocol": "rtsp",
                  "rtsp.response.status_code": (200, 401)[draw.below(2)]}  # fmt: skip
    else:
        event |= {"event.action": "ssh_login", "event.dataset": "system.auth",
                  "event.outcome": ("success", "failure")[draw.below(2)],
                  "user.name": f"user{draw.below(40)}"}  # fmt: skip
    return event


def batch(start: int, total: int) -> list[Event]:
    """Events ``start`` to ``start + BATCH`` of ``total``."""
    return [city_event(i, total) for i in range(start, min(start + BATCH, total))]


def event_store(events: int, *, as_far_as_built: bool = False) -> tuple[Path, int]:
    """The store of ``events`` events, made now unless an earlier run left it complete, and
    how many it holds; with ``as_far_as_built``, the unfinished store as it is (its build
    stopped: it resumes on the next run without the flag). Its address index is caught up
    (``eventstore.addresses``: once for a store built before it, then nothing to do)."""
    path = OUT / f"events-{events}.db"
    if path.exists():
        indexed(path)
        return path, events
    partial = path.with_name(path.name + ".partial")
    if as_far_as_built and partial.exists():
        indexed(partial)
        with SqliteEventStore(partial) as store:
            return partial, store.count()
    partial = path.with_name(path.name + ".partial")
    store = SqliteEventStore(partial)
    try:
        done = store.count()
        done -= done % BATCH  # a batch is one transaction: whole batches are there
        started, last = time.monotonic(), time.monotonic()
        log.info("event store %s: %d of %d events there, writing the rest", path, done, events)
        for start in range(done, events, BATCH):
            store.write(batch(start, events))
            if time.monotonic() - last > 30:
                last = time.monotonic()
                rate = (start + BATCH - done) / (last - started)
                log.info("%d of %d events (%.0f/s)", start + BATCH, events, rate)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    for suffix in ("-wal", "-shm"):
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)
    partial.rename(path)
    indexed(path)
    return path, events


def indexed(path: Path) -> None:
    """Catch the store's address index up, saying how long it took when it had work."""
    started = time.monotonic()
    with SqliteEventStore(path) as store:
        store.index_addresses()
    if time.monotonic() - started > 1:
        log.info("event store %s: addresses indexed in %.0f s", path, time.monotonic() - started)


RULES = (
    "credential_access_rtsp_auth_failure", "credential_access_camera_login_failure",
    "initial_access_hikvision_cve_2021_36260", "initial_access_dahua_cve_2021_33044",
    "lateral_movement_telnet_from_camera", "discovery_ws_discovery_not_vms",
    "command_and_control_camera_to_internet", "initial_access_sql_injection",
    "initial_access_path_traversal", "discovery_web_scanner_user_agent",
    "exfiltration_dns_long_label_query", "exfiltration_large_upload_to_internet",
    "persistence_webshell_upload", "credential_access_ssh_brute_force",
    "impair_process_control_modbus_write_not_engineering", "discovery_http_not_found",
)  # fmt: skip
SEVERITIES = ("low", "medium", "medium", "high", "critical")
RISK = {"low": 21, "medium": 47, "high": 73, "critical": 99}
STATUSES = ("new",) * 7 + ("acknowledged", "in_progress", "closed")
ANALYSTS = tuple(f"analyst{n}" for n in range(12))


def alert_rows(count: int, events: int, total: int) -> Iterator[dict[str, Any]]:
    """``count`` alerts, each on 1 to 20 consecutive events among the first ``events`` of a
    store of ``total`` (an actor's burst)."""
    rng = random.Random(17)
    for n in range(count):
        first = rng.randrange(events - 20)
        size = rng.randrange(1, 21)
        group = [city_event(i, total) for i in range(first, first + size)]
        head = group[0]
        rule = RULES[rng.randrange(len(RULES))]
        severity = SEVERITIES[rng.randrange(len(SEVERITIES))]
        status = STATUSES[rng.randrange(len(STATUSES))]
        source, target = str(head["source.ip"]), str(head["destination.ip"])
        targets = sorted({f"ip:{e['destination.ip']}" for e in group})
        yield {
            "rule_id": f"bench-{rule}", "rule_name": rule,
            "title": rule.replace("_", " ").capitalize(), "severity": severity,
            "risk_score": min(100, RISK[severity] + rng.randrange(-10, 11)), "status": status,
            "agency": head["organization.id"], "segment": head["citysoc.segment"],
            "security_level": 3, "entity": {"source.ip": source, "destination.ip": target},
            "dedup_key": f"{rule}|{source}|{n}", "event_ids": [e["event.id"] for e in group],
            "event_count": len(group), "first_seen": head["@timestamp"],
            "last_seen": group[-1]["@timestamp"], "runbook": "",
            "tags": [], "note": "", "observables": [f"ip:{source}", f"ip:{target}"],
            "assignee": ANALYSTS[n % len(ANALYSTS)] if status != "new" else None,
            "close_reason": "true_positive" if status == "closed" else None,
            "closed_at": group[-1]["@timestamp"] if status == "closed" else None,
            "attacker": f"ip:{source}", "targets": targets[:10], "target_count": len(targets),
            "infrastructure": [], "fingerprints": [], "tactic": rule.split("_")[0],
        }  # fmt: skip


def insert_alerts(session: Any, table: Any, count: int, events: int, total: int) -> None:
    """The alerts, in statements of 5,000, with the rows of the entity table the ORM writes
    for alerts it inserts (``soc_api.alerts.models._index_entities``)."""
    rows: list[dict[str, Any]] = []
    for row in alert_rows(count, events, total):
        rows.append(row)
        if len(rows) == 5_000:
            _insert(session, table, rows)
            rows.clear()
    if rows:
        _insert(session, table, rows)


def _insert(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    ids = session.scalars(insert(table).returning(table.id, sort_by_parameter_order=True), rows)
    entities = [
        entity
        for alert_id, row in zip(ids.all(), rows, strict=True)
        for role in ROLES
        for entity in entity_rows(alert_id, role, row[role])
    ]
    session.execute(insert(AlertEntity), entities)
