"""Benchmark: the whole rule set over stored events, against a per-rule SQLite engine, and
detection latency per rule.

    .venv/bin/python benchmarks/bench_rules.py [--events 1000000] [--no-latency]

1. Writes N synthetic, enriched city events (flows, RTSP, HTTP, DNS, sshd, VMS logins, Suricata),
   with every rule's match and nomatch samples laid in among them (one event in 500), into a
   fresh SQLite event store (benchmarks/out/), spread over one day.
2. Against a per-rule baseline, in the same run, on the same events and the same event rules:
   the events flattened into an in-memory SQLite table (one untyped ``COLLATE NOCASE`` column
   per field, what pySigma's SQLite backend compiles against) and each rule's pySigma SQL run
   on it separately. Three rounds, taking turns; the ratio of the medians, and whether every
   rule matched the same number of events in both.
3. Runs every compiled rule over all of them in one detection run (the cold start of a
   scheduler), and over the last 10,000 (a steady-state run): events/s and rules x events/s.
4. Detection latency: with the scheduler running (interval 1 s) on that store, writes each
   rule's first match sample (fresh ids, timestamps now) and times event stored -> alert.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from citysoc.core.ecs import Event, event_id, timestamp
from detections.engine.catalog import Catalog, load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.proving import load_sample
from detections.engine.runner import DetectionRunner
from detections.engine.targets import SCOPE
from eventstore.sqlite import SqliteEventStore
from soc_api.alerts.models import Alert
from soc_api.db import init_state, make_engine
from soc_api.scheduler import DetectionScheduler

OUT = Path(__file__).resolve().parent / "out" / "rules"
DAY = datetime(2026, 11, 21, tzinfo=UTC).timestamp()


def synthetic(i: int, rng: random.Random) -> Event:
    when = timestamp(DAY + i * 86400 / 1_000_000)
    camera = f"10.31.{rng.randrange(4)}.{rng.randrange(1, 255)}"
    base: Event = {"event.id": event_id("bench", i), "@timestamp": when, "event.kind": "event"}
    kind = i % 7
    if kind in (0, 1):
        base |= {
            "event.action": "network_flow",
            "event.dataset": "network_traffic.flow",
            "network.transport": "tcp",
            "source.ip": "10.20.0.10",
            "destination.ip": camera,
            "destination.port": 554,
            "event.outcome": "success",
            "network.protocol": "rtsp",
            "citysoc.source.kind": "ioc",
            "citysoc.source.role": "vms",
            "citysoc.destination.kind": "camera",
            "organization.id": "d1",
        }
    elif kind == 2:
        base |= {
            "event.action": "rtsp_request",
            "event.dataset": "network_traffic.rtsp",
            "network.protocol": "rtsp",
            "rtsp.request.method": "PLAY",
            "rtsp.response.status_code": 200,
            "source.ip": "10.20.0.10",
            "destination.ip": camera,
            "user.name": "vms-svc",
            "citysoc.source.role": "vms",
            "citysoc.source.kind": "ioc",
            "citysoc.destination.kind": "camera",
            "organization.id": "d1",
        }
    elif kind == 3:
        base |= {
            "event.action": "dns_query",
            "event.dataset": "network_traffic.dns",
            "dns.question.name": f"svc{rng.randrange(50)}.hochiminhcity.gov.vn.example",
            "dns.question.type": "A",
            "source.ip": "10.20.0.101",
            "destination.ip": "10.50.0.53",
            "organization.id": "dic",
        }
    elif kind == 4:
        base |= {
            "event.action": "http_request",
            "event.dataset": "network_traffic.http",
            "http.request.method": "GET",
            "url.path": "/dich-vu-cong",
            "url.query": f"ma={rng.randrange(1000)}",
            "http.response.status_code": 200,
            "user_agent.original": "Mozilla/5.0",
            "source.ip": "198.51.100.20",
            "destination.ip": "10.10.0.20",
            "organization.id": "dc",
        }
    elif kind == 5:
        base |= {
            "event.action": "ssh_login",
            "event.dataset": "system.auth",
            "event.outcome": "success",
            "user.name": "deploy",
            "source.ip": "10.60.0.5",
            "host.ip": "10.10.1.5",
            "organization.id": "dc",
            "citysoc.source.role": "bastion",
        }
    else:
        base |= {
            "event.module": "suricata",
            "event.dataset": "suricata.eve",
            "event.action": "flow",
            "source.ip": "10.20.0.30",
            "destination.ip": "10.40.0.5",
            "destination.port": 502,
            "organization.id": "drainage",
        }
    return base


def city_events(count: int, catalog: Catalog) -> list[Event]:
    """``count`` synthetic events, and every rule's samples in turn after each 500th."""
    samples = [
        event
        for folder in catalog.folders
        for path in [*folder.match, *folder.nomatch]
        for event in load_sample(path)
    ]
    rng = random.Random(85)
    events: list[Event] = []
    for i in range(count):
        events.append(synthetic(i, rng))
        if i % 500 == 0:
            sample = dict(samples[i // 500 % len(samples)])
            sample["event.id"] = event_id("bench-sample", i)
            sample["@timestamp"] = events[-1]["@timestamp"]
            events.append(sample)
    return events


def fill(store: SqliteEventStore, events: list[Event]) -> float:
    started = time.perf_counter()
    for n in range(0, len(events), 5000):
        store.write(events[n : n + 5000])
    return time.perf_counter() - started


class PerRuleBaseline:
    """The events flattened into an in-memory SQLite table; each rule's SQL run on its own."""

    def __init__(self, events: list[Event], rules: list[CompiledRule]) -> None:
        names = list(
            dict.fromkeys([k for e in events for k in e] + [f for r in rules for f in r.fields])
        )
        self.conn = sqlite3.connect(":memory:")
        self.conn.create_function("REGEXP", 2, _search, deterministic=True)
        columns = ", ".join(f'"{n}" COLLATE NOCASE' for n in names)
        self.conn.execute(f"CREATE TABLE {SCOPE} ({columns})")
        started = time.perf_counter()
        by_keys: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
        for event in events:
            by_keys.setdefault(tuple(event), []).append(tuple(map(_flat, event.values())))
        with self.conn:
            for keys, rows in by_keys.items():
                named = ", ".join(f'"{k}"' for k in keys)
                self.conn.executemany(
                    f"INSERT INTO {SCOPE} ({named}) VALUES ({', '.join('?' * len(keys))})", rows
                )
        self.load_seconds = time.perf_counter() - started
        self.rules = rules

    def run(self) -> tuple[float, dict[str, int]]:
        started = time.perf_counter()
        counts: dict[str, int] = {}
        for rule in self.rules:
            cur = self.conn.execute(rule.sql)
            names = [d[0] for d in cur.description]
            counts[rule.rule_id] = len([dict(zip(names, row, strict=True)) for row in cur])
        return time.perf_counter() - started, counts


def _search(pattern: str, value: object) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def _flat(value: object) -> object:
    return json.dumps(value) if isinstance(value, list | dict) else value


def compare(store: SqliteEventStore, events: list[Event], rules: list[CompiledRule]) -> None:
    """citysoc's detection pass against the per-rule baseline: three rounds, taking turns."""
    event_rules = [r for r in rules if r.kind == "event"]
    baseline = PerRuleBaseline(events, event_rules)
    print(
        f"baseline: {len(events):,} events into an in-memory table in {baseline.load_seconds:.1f}s"
    )
    theirs: list[float] = []
    ours: list[float] = []
    for _ in range(3):
        seconds, expected = baseline.run()
        theirs.append(seconds)
        runner = DetectionRunner(store, event_rules)
        started = time.perf_counter()
        report = runner.run(0, store.head())
        ours.append(time.perf_counter() - started)
        found = {r.rule_id: 0 for r in event_rules}
        for hit in report.hits:
            found[hit.rule.rule_id] += 1
    names = {r.rule_id: r.name for r in event_rules}
    differ = {names[k]: (expected[k], found[k]) for k in expected if expected[k] != found[k]}
    print(
        f"{len(event_rules)} event rules over {len(events):,} events: per-rule baseline "
        f"{' '.join(f'{s:.2f}' for s in theirs)}s, citysoc {' '.join(f'{s:.2f}' for s in ours)}s; "
        f"median {statistics.median(theirs):.2f}s vs {statistics.median(ours):.2f}s -> "
        f"citysoc {statistics.median(theirs) / statistics.median(ours):.2f}x as fast"
    )
    fired = sum(1 for n in found.values() if n)
    print(
        f"per-rule match counts: {'identical' if not differ else 'DIFFERENT'} "
        f"({sum(found.values()):,} matches, {fired} of {len(event_rules)} rules fired)"
        + (f"; differing (baseline, citysoc): {differ}" if differ else "")
    )


def run_all(store: SqliteEventStore, runner: DetectionRunner, after: int) -> tuple[float, int]:
    started = time.perf_counter()
    report = runner.run(after, store.head())
    return time.perf_counter() - started, report.events_scanned


def latency(store: SqliteEventStore, runner: DetectionRunner, catalog_folders: list) -> list:  # type: ignore[type-arg]
    sessions = init_state(make_engine(f"sqlite:///{OUT / 'soc.db'}"))
    scheduler = DetectionScheduler(
        store=store, runner=runner, sessions=sessions, suppression=timedelta(0), interval=1.0
    )
    scheduler.run_once()
    scheduler.start()
    results: list[tuple[str, float | None]] = []
    try:
        for folder in catalog_folders:
            events = load_sample(folder.match[0])
            now = time.time()
            base = min(e["@timestamp"] for e in events)
            for n, event in enumerate(events):
                shift = (
                    datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(base.replace("Z", "+00:00"))
                ).total_seconds()
                event["@timestamp"] = timestamp(now + shift)
                event["event.id"] = event_id("latency", folder.name, n, now)
            stored = time.perf_counter()
            store.write(events)
            deadline = stored + 30
            with sessions() as session:
                while time.perf_counter() < deadline:
                    hit = session.scalar(select(Alert.id).where(Alert.rule_id == folder.rule_id))
                    if hit is not None:
                        results.append((folder.name, time.perf_counter() - stored))
                        break
                    session.rollback()
                    time.sleep(0.02)
                else:
                    results.append((folder.name, None))
    finally:
        scheduler.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-latency", action="store_true", help="skip the latency part")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    catalog = load_catalog()
    rules = compile_catalog(catalog).rules
    store = SqliteEventStore(OUT / "events.db")
    events = city_events(args.events, catalog)
    seconds = fill(store, events)
    print(
        f"stored {len(events):,} events in {seconds:.1f}s ({len(events) / seconds:,.0f} events/s)"
    )
    compare(store, events, rules)
    del events
    runner = DetectionRunner(store, rules)
    cold, scanned = run_all(store, runner, 0)
    print(
        f"{len(rules)} rules over {scanned:,} events: {cold:.2f}s -> "
        f"{scanned / cold:,.0f} events/s, {len(rules) * scanned / cold:,.0f} rule x events/s"
    )
    steady, scanned = run_all(store, runner, store.head() - 10_000)
    print(f"steady-state run over the newest {scanned:,} events: {steady * 1000:.0f} ms")
    if args.no_latency:
        return
    alerting = {r.rule_id for r in rules}
    folders = [f for f in catalog.folders if f.rule_id in alerting]
    measured = latency(store, runner, folders)
    found = [s for _, s in measured if s is not None]
    print(
        f"detection latency (stored -> alert, scheduler interval 1 s) over {len(found)} rules: "
        f"median {statistics.median(found):.2f}s, max {max(found):.2f}s"
    )
    missing = [name for name, s in measured if s is None]
    if missing:
        print(f"no alert within 30 s for: {', '.join(missing)}")
    (OUT / "latency.json").write_text(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
