"""Benchmark: the whole rule set over stored events, and detection latency per rule.

    .venv/bin/python benchmarks/bench_rules.py [--events 1000000]

1. Writes N synthetic, enriched city events (flows, RTSP, HTTP, DNS, sshd, VMS logins, Suricata)
   into a fresh SQLite event store (benchmarks/out/), spread over one day.
2. Runs every compiled rule over all of them in one detection run (the cold start of a
   scheduler), and over the last 10,000 (a steady-state run): events/s and rules x events/s.
3. Detection latency: with the scheduler running (interval 1 s) on that store, writes each
   rule's first match sample (fresh ids, timestamps now) and times event stored -> alert.
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from citysoc.core.ecs import Event, event_id, timestamp
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.proving import load_sample
from detections.engine.runner import DetectionRunner
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


def fill(store: SqliteEventStore, count: int) -> float:
    rng = random.Random(85)
    started = time.perf_counter()
    batch: list[Event] = []
    for i in range(count):
        batch.append(synthetic(i, rng))
        if len(batch) == 5000:
            store.write(batch)
            batch.clear()
    store.write(batch)
    return time.perf_counter() - started


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
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    catalog = load_catalog()
    rules = compile_catalog(catalog).rules
    store = SqliteEventStore(OUT / "events.db")
    seconds = fill(store, args.events)
    print(
        f"stored {args.events:,} events in {seconds:.1f}s ({args.events / seconds:,.0f} events/s)"
    )
    runner = DetectionRunner(store, rules)
    cold, scanned = run_all(store, runner, 0)
    print(
        f"{len(rules)} rules over {scanned:,} events: {cold:.2f}s -> "
        f"{scanned / cold:,.0f} events/s, {len(rules) * scanned / cold:,.0f} rule x events/s"
    )
    steady, scanned = run_all(store, runner, store.head() - 10_000)
    print(f"steady-state run over the newest {scanned:,} events: {steady * 1000:.0f} ms")
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
