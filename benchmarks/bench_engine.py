"""The engine store against plain ``_bulk`` and against SQLite, in one run, as ratios.

Starts (or takes, with ``--url``) an OpenSearch node from ``scripts/engine.sh`` and measures:

* ingest: ``citysoc collect eve FILE`` into the engine, start-up included; the same events,
  parsed and enriched beforehand, sent with plain ``_bulk`` requests of 2,000 by one client
  (the engine's own limit for one writer); and the command into SQLite;
* rules: every rule over the stored events, on the engine (its queries narrow, the SQLite
  queries decide) and on SQLite, with the alerts of both compared;
* event → alert: an attack event written, the detection schedule run every second with
  ``CITYSOC_DETECTION_SETTLE_SECONDS`` (default 3), until the alert is raised; p50 and p95;
* the node's resident memory at the end.

``--layout`` instead times bulk writes of the same events into one node with the layout
varied (as built; without the ingest pipeline; with ``event.original`` not indexed; both;
as built again): what each part of the layout costs per event.

    .venv/bin/python benchmarks/bench_engine.py --lines 200000
    .venv/bin/python benchmarks/bench_engine.py --url opensearch+http://127.0.0.1:9250
    .venv/bin/python benchmarks/bench_engine.py --layout --lines 16000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_eve import generate

from citysoc.core.ecs import event_id
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors.enrich import Enricher
from collectors.sources.eve import read_eve
from collectors.stats import CollectorStats
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.engine_queries import compile_engine_queries
from detections.engine.engine_runner import EngineDetectionRunner
from detections.engine.runner import DetectionRunner
from eventstore.engine.client import EngineClient, open_client
from eventstore.engine.indices import install
from eventstore.engine.layout import data_stream
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore
from eventstore.sqlite import SqliteEventStore

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "scripts" / "engine.sh"
NAME = "bench-engine"


def fresh(client: EngineClient) -> None:
    client.request("DELETE", "/_data_stream/logs-*")
    install(client, load_topology(BUNDLED_TOPOLOGY))


CLIENT_CPUS: set[int] | None = None  # with --pin: the cores the writers may use


def collect(eve: Path, data: Path, store: str | None) -> float:
    env = {**os.environ, "CITYSOC_DATA_DIR": str(data)}
    if store:
        env["CITYSOC_EVENT_STORE"] = store
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", str(eve)]
    if CLIENT_CPUS is not None:
        command = ["taskset", "-c", ",".join(map(str, sorted(CLIENT_CPUS))), *command]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
    return time.perf_counter() - started


def prepared(eve: Path) -> list[dict[str, object]]:
    """The file's events, parsed and enriched (not timed)."""
    enrich = Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")
    return [enrich(e) for e in read_eve(eve, CollectorStats())]


def bulk_all(client: EngineClient, events: list[dict[str, object]]) -> float:
    """Seconds to send the events with plain ``_bulk`` requests of 2,000."""
    if CLIENT_CPUS is not None:
        os.sched_setaffinity(0, CLIENT_CPUS)
    started = time.perf_counter()
    for start in range(0, len(events), 2000):
        operations: list[dict[str, object]] = []
        for event in events[start : start + 2000]:
            operations.append({"create": {"_index": data_stream(event), "_id": event["event.id"]}})
            operations.append(event)
        client.bulk(operations)
    elapsed = time.perf_counter() - started
    if CLIENT_CPUS is not None:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return elapsed


def pin(name: str) -> set[int]:
    """The engine's node on the last core, the writers on the others: an engine on hosts of
    its own, as deployed, on one machine. The cores the writers get."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--pin needs two cores")
    status = subprocess.run([str(ENGINE), "status", name], capture_output=True, text=True)
    pids = [line.split("alive pid ")[1].split()[0] for line in status.stdout.splitlines()
            if "alive pid " in line]  # fmt: skip
    for pid in pids:  # every thread of the JVM
        subprocess.run(["taskset", "-a", "-cp", str(cores[-1]), pid], check=True,
                       capture_output=True)  # fmt: skip
    print(f"pinned: engine node(s) {', '.join(pids)} on core {cores[-1]}, writers on "
          f"{', '.join(map(str, cores[:-1]))}")  # fmt: skip
    return set(cores[:-1])


def rules_on_both(url: str, sqlite_path: Path) -> None:
    catalog = load_catalog()
    rules = compile_catalog(catalog).rules
    queries = compile_engine_queries(catalog, {r.rule_id for r in rules}).queries
    store = EngineEventStore(open_client(parse_engine_url(url)), settle_seconds=0)
    store.refresh()
    started = time.perf_counter()
    on_engine = EngineDetectionRunner(store, rules, queries).run(0, store.head() + 10)
    engine_s = time.perf_counter() - started
    with SqliteEventStore(sqlite_path) as sqlite:
        started = time.perf_counter()
        on_sqlite = DetectionRunner(sqlite, rules).run(0, sqlite.head())
        sqlite_s = time.perf_counter() - started
    same = {(h.rule.rule_id, h.event_ids) for h in on_engine.hits} == {
        (h.rule.rule_id, h.event_ids) for h in on_sqlite.hits
    }
    print(f"rules over {on_sqlite.events_scanned:,} events: engine {engine_s:.2f} s, "
          f"SQLite {sqlite_s:.2f} s (engine/SQLite time {engine_s / sqlite_s:.2f}); "
          f"{len(on_engine.hits)} hits, the same alerts: {same}")  # fmt: skip
    store.close()


def alert_latency(url: str, rounds: int, settle: float) -> None:
    catalog = load_catalog()
    rules = [r for r in compile_catalog(catalog).rules if "hikvision_cve_2021_36260" in r.name]
    queries = compile_engine_queries(catalog, {r.rule_id for r in rules}).queries
    store = EngineEventStore(open_client(parse_engine_url(url)), settle_seconds=settle)
    runner = EngineDetectionRunner(store, rules, queries)
    checkpoint = store.head()
    took = []
    for n in range(rounds):
        attack = {
            "@timestamp": "2026-11-20T02:00:00.000Z",
            "event.id": event_id("latency", n, time.time()),
            "event.dataset": "network_traffic.http",
            "organization.id": "tanbinh",
            "http.request.method": "PUT",
            "url.path": "/SDK/webLanguage",
            "http.request.body.content": "<language>$(id)</language>",
            "source.ip": "203.0.113.7",
        }
        written = time.perf_counter()
        store.write([attack])
        while True:
            time.sleep(1.0)  # the schedule's interval
            upto = store.head()
            hits = runner.run(checkpoint, upto).hits
            checkpoint = max(checkpoint, upto)
            if any(attack["event.id"] in h.event_ids for h in hits):
                took.append(time.perf_counter() - written)
                break
    took.sort()
    p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
    print(f"event → alert, settle {settle:g} s, interval 1 s, {rounds} rounds: "
          f"p50 {statistics.median(took):.1f} s, p95 {p95:.1f} s")  # fmt: skip
    store.close()


def layout_costs(url: str, lines: int) -> None:
    """Bulk rates of the same events with parts of the layout left out, in one run."""
    import eventstore.engine.indices as indices
    from eventstore.engine import layout

    client = open_client(parse_engine_url(url))
    topology = load_topology(BUNDLED_TOPOLOGY)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as folder:
        eve = Path(folder) / "eve.json"
        generate(eve, lines)
        events = prepared(eve)

    def varied(no_pipeline: bool, no_original: bool) -> dict[str, object]:
        template = layout.component_template()
        inner = template["template"]
        if no_pipeline:
            inner["settings"]["index"].pop("default_pipeline")
        if no_original:
            event = inner["mappings"]["properties"]["event"]["properties"]
            event["original"] = {"type": "keyword", "index": False, "doc_values": False}
        return template

    variants = [("as built", False, False), ("without the ingest pipeline", True, False),
                ("event.original not indexed", False, True), ("both", True, True),
                ("as built, again", False, False)]  # fmt: skip
    for label, no_pipeline, no_original in variants:
        client.request("DELETE", "/_data_stream/logs-*")
        client.request("DELETE", "/_index_template/citysoc-logs*")
        client.request("DELETE", "/_component_template/citysoc-ecs")
        indices.component_template = lambda a=no_pipeline, b=no_original: varied(a, b)  # type: ignore[misc]
        install(client, topology)
        started = time.perf_counter()
        for start in range(0, len(events), 2000):
            operations: list[dict[str, object]] = []
            for event in events[start : start + 2000]:
                operations.append(
                    {"create": {"_index": data_stream(event), "_id": event["event.id"]}}
                )
                operations.append(event)
            client.bulk(operations)
        print(f"{label}: {len(events) / (time.perf_counter() - started):,.0f} events/s")
    indices.component_template = layout.component_template
    client.request("DELETE", "/_data_stream/logs-*")
    client.request("DELETE", "/_index_template/citysoc-logs*")
    client.request("DELETE", "/_component_template/citysoc-ecs")
    fresh(client)
    client.close()


def node_rss(name: str) -> None:
    for pid_file in sorted((REPO / ".cache" / "engine" / "run" / name).glob("node-*/node.pid")):
        pid = pid_file.read_text().strip()
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            rss = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS"))
            print(f"{pid_file.parent.name} resident memory: {rss.split(':')[1].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--url", help="an engine already running (else one is started)")
    parser.add_argument("--latency-rounds", type=int, default=20)
    parser.add_argument("--layout", action="store_true", help="what each part of the layout costs")
    parser.add_argument("--pin", action="store_true",
                        help="the node on one core, the writers on the others (engine hosts of "
                             "their own); needs the node started here")  # fmt: skip
    parser.add_argument("--no-rules", action="store_true", help="ingest figures only")
    args = parser.parse_args()
    global CLIENT_CPUS
    url = args.url
    if url is None:
        started = subprocess.run(
            [str(ENGINE), "start", NAME, "--http-port", "9270", "--heap", "1g"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        url = "opensearch+" + started.stdout.strip().splitlines()[-1]
    try:
        if args.pin and args.url is None:
            CLIENT_CPUS = pin(NAME)
        if args.layout:
            layout_costs(url, args.lines)
            return
        client = open_client(parse_engine_url(url))
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as folder:
            work = Path(folder)
            eve = work / "eve.json"
            generate(eve, args.lines)
            fresh(client)
            collected = collect(eve, work / "engine-var", url)
            fresh(client)
            rows = prepared(eve)
            bulk_s, events = bulk_all(client, rows), len(rows)
            sqlite_s = collect(eve, work / "sqlite-var", None)
            print(f"{events:,} EVE events. collect eve → engine: {events / collected:,.0f}/s")
            print(f"plain _bulk of the same rows: {events / bulk_s:,.0f}/s "
                  f"(collect/bulk {bulk_s / collected:.2f})")  # fmt: skip
            print(f"collect eve → SQLite: {events / sqlite_s:,.0f}/s "
                  f"(engine/SQLite {sqlite_s / collected:.2f})")  # fmt: skip
            if args.no_rules:
                return
            rules_on_both(url, work / "sqlite-var" / "events.db")
        alert_latency(url, args.latency_rounds, settle=3.0)
        node_rss(NAME)
        client.close()
    finally:
        if args.url is None:
            subprocess.run([str(ENGINE), "stop", NAME], check=False, capture_output=True)


if __name__ == "__main__":
    main()
