"""SOC API under load: mixed analyst traffic at a fixed rate, on SQLite and on PostgreSQL.

The event store (10,000,000 events by default) is built once into ``benchmarks/out/api/`` and
reused (``api_data.py``); each run seeds 100,000 alerts over it into a fresh SOC state (a
SQLite file, or a throwaway database on the machine's PostgreSQL), starts ``citysoc serve``
on 127.0.0.1 in its own process, and drives it from a second process (``api_load.py``) at
``--rate`` requests a second: the alert queue, filters, alert detail with its evidence,
entity look-ups and incidents. It prints p50/p95/p99 per request kind and overall, and with
``--explain`` the query plans of the requests' SQL (``EXPLAIN QUERY PLAN`` on SQLite,
``EXPLAIN ANALYZE`` on PostgreSQL).

Run: .venv/bin/python benchmarks/bench_api.py [--events 10000000] [--alerts 100000]
     [--rate 200] [--seconds 60] [--state sqlite,postgresql] [--explain]
     .venv/bin/python benchmarks/bench_api.py --prepare-only   # build the event store only
     .venv/bin/python benchmarks/bench_api.py --alone-only      # each kind alone: no load
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import ANALYSTS, RULES, event_store, insert_alerts
from api_plans import explain_all
from api_postgres import throwaway_database

from eventstore.sqlite import SqliteEventStore
from soc_api import checkpoints
from soc_api.alerts.models import Alert
from soc_api.auth.models import TokenScope
from soc_api.auth.tokens import create_token
from soc_api.db import init_state, make_engine, transaction
from soc_api.scheduler import CHECKPOINT

HERE = Path(__file__).resolve().parent
TIMEOUT = 60.0
# Request kinds that read every alert or every event (the search language's bare values and
# event searches): the load runs once without them, then with every kind.
FULL_SCANS = ("text:", "entity: ?q=", "pivot:", "events:")
log = logging.getLogger("bench_api")


def seed(state_url: str, store_path: Path, alerts: int, events: int, total: int) -> dict[str, Any]:
    """Alerts and tokens into a fresh SOC state; what the load needs to name them."""
    engine = make_engine(state_url)
    sessions = init_state(engine)
    with transaction(sessions) as session:
        insert_alerts(session, Alert, alerts, events, total)
    if engine.dialect.name == "postgresql":  # as autovacuum would soon after such a load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE alerts")
    with SqliteEventStore(store_path) as store:
        head = store.head()
    with transaction(sessions) as session:
        checkpoints.write(session, CHECKPOINT, head)  # detections already ran over the store
        tokens = {
            name: create_token(session, name=f"bench-{name}", scope=TokenScope.READ,
                               agency=agency, days=1, actor="bench").token
            for name, agency in (("city", None), ("d1", "d1"))
        }  # fmt: skip
    with sessions() as session:
        top = int(session.scalar(select(func.max(Alert.id))) or 0)
        d1_ids = list(session.scalars(select(Alert.id).where(Alert.agency == "d1").limit(2000)))
        attackers = list(session.scalars(select(Alert.attacker).distinct().limit(500)))
    engine.dispose()
    return {"tokens": tokens, "top": top, "d1_ids": d1_ids, "attackers": attackers}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    data_dir: Path, state_url: str, store_path: Path, workers: int = 1
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "CITYSOC_DATA_DIR": str(data_dir),
        "CITYSOC_STATE_URL": state_url,
        "CITYSOC_EVENT_STORE": f"sqlite:///{store_path}",
        "CITYSOC_LOG_LEVEL": "WARNING",
        "CITYSOC_DETECTION_INTERVAL_SECONDS": "3600",
    }
    command = [sys.executable, "-m", "citysoc.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers)]  # fmt: skip
    log_file = (data_dir / "serve.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"citysoc serve exited; see {data_dir / 'serve.log'}")
            try:
                httpx.get(f"{base}/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit("citysoc serve did not answer in 120 s")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()


def kinds(base: str, seeded: dict[str, Any]) -> list[dict[str, Any]]:
    """The request mix: (name, weight out of 100, token, paths to choose from)."""
    city, d1 = seeded["tokens"]["city"], seeded["tokens"]["d1"]
    top = seeded["top"]
    pages = [f"/api/v1/alerts?offset={50 * k}" for k in range(10)]
    filters = [
        f"/api/v1/alerts?status={s}&severity={v}&sort=newest"
        for s in ("new", "acknowledged", "in_progress")
        for v in ("critical", "high", "medium")
    ]
    headers = {"Authorization": f"Bearer {city}"}
    found = httpx.get(f"{base}/api/v1/incidents?limit=100", headers=headers, timeout=120)
    incidents = [i["id"] for i in found.json()["items"]] or [1]
    step = max(1, top // 997)
    attackers = [a for a in seeded["attackers"] if a]
    spec = [
        ("queue, city-wide, by risk", 20, city, pages),
        ("queue, one agency (d1)", 10, d1, pages),
        ("filter: status + severity, newest", 8, city, filters),
        ("filter: rule, newest", 5, city, [f"/api/v1/alerts?rule={r}&sort=newest" for r in RULES]),
        ("filter: assignee, in progress", 4, city,
         [f"/api/v1/alerts?assignee={a}&status=in_progress" for a in ANALYSTS]),
        ("filter: agency, by severity", 5, city,
         [f"/api/v1/alerts?agency={a}&sort=severity" for a in ("d1", "tanbinh", "dc", "dot")]),
        ("text: ?q= a word of the title", 3, city,
         [f"/api/v1/alerts?q={w}" for w in ("camera", "brute", "injection", "dns")]),
        ("entity: ?attacker= its alerts", 4, city,
         [f"/api/v1/alerts?attacker={a}" for a in attackers]),
        ("entity: ?q= an address (search language)", 3, city,
         [f"/api/v1/alerts?q={a.removeprefix('ip:')}" for a in attackers]),
        ("alert detail + evidence", 20, city,
         [f"/api/v1/alerts/{1 + n * step}" for n in range(997)]),
        ("alert detail, agency analyst", 5, d1, [f"/api/v1/alerts/{i}" for i in seeded["d1_ids"]]),
        ("incidents", 8, city, ["/api/v1/incidents?limit=50"]),
        ("incident detail", 4, city, [f"/api/v1/incidents/{i}" for i in incidents]),
        ("incident targets", 3, city, ["/api/v1/incidents/targets"]),
    ]  # fmt: skip
    # Routes that may not exist yet in every version: taken when the API offers them.
    offered = httpx.get(f"{base}/openapi.json", timeout=60).json()["paths"]
    if "/api/v1/pivot/{kind}/{value}" in offered:
        spec.append(("pivot: an address (events, alerts, incidents)", 4, city,
                     [f"/api/v1/pivot/ip/{a.removeprefix('ip:')}" for a in attackers]))  # fmt: skip
    if "/api/v1/events" in offered:
        addresses = [a.removeprefix("ip:") for a in attackers]
        spec.append(("events: ?q=source.ip:<address>", 3, city,
                     [f"/api/v1/events?q=source.ip:{a}" for a in addresses]))  # fmt: skip
    return [{"name": n, "weight": w, "token": t, "paths": p} for n, w, t, p in spec]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children (the API workers of
    ``--workers N``) have used, from /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def alone(
    base: str, pid: int, mix: list[dict[str, Any]], rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Each kind's median latency with nothing else in flight (``rounds`` requests each), and
    the server's CPU time per request of that kind (which the machine's load does not add
    to, unlike the latency)."""
    medians: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        for kind in mix:
            headers = {"Authorization": f"Bearer {kind['token']}"}
            times: list[float] = []
            used = cpu_seconds(pid)
            for n in range(rounds):
                if sum(times) > 10_000:
                    break  # a slow kind: what was timed tells enough
                started = time.perf_counter()
                try:
                    client.get(kind["paths"][n * 7 % len(kind["paths"])], headers=headers)
                except httpx.TimeoutException:
                    log.warning("%s: no answer in %.0f s", kind["name"], TIMEOUT)
                times.append((time.perf_counter() - started) * 1000)
            cpu[kind["name"]] = (cpu_seconds(pid) - used) * 1000 / len(times)
            medians[kind["name"]] = percentile(times, 0.5)
    return medians, cpu


def load(
    tmp: str, base: str, pid: int, args: argparse.Namespace, rate: float, mix: list[dict[str, Any]]
) -> Any:
    """One load run at ``rate`` from a second process (``api_load.py``); its result, with the
    server's CPU time over the whole run (warm-up included) and the load average."""
    plan = {"base": base, "rate": rate, "seconds": args.seconds, "warmup": args.warmup,
            "kinds": mix, "timeout": TIMEOUT}  # fmt: skip
    plan_file = Path(tmp) / "plan.json"
    plan_file.write_text(json.dumps(plan))
    used = cpu_seconds(pid)
    done = subprocess.run([sys.executable, str(HERE / "api_load.py"), str(plan_file)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    result["server_cpu_seconds"] = cpu_seconds(pid) - used
    result["rate"] = rate
    result["load_average"] = os.getloadavg()[0]  # of the last minute, as the run ends
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(
    result: dict[str, Any], seconds: float, unloaded: dict[str, float], cpu: dict[str, float]
) -> None:
    rows = [(name, values) for name, values in result["latencies"].items()]
    everything = [v for _, values in rows for v in values]
    print(f"  {'request kind':<36} {'alone':>8} {'CPU':>8} {'count':>6} {'p50':>8} {'p95':>8} "
          f"{'p99':>8}  statuses")  # fmt: skip
    for name, values in [*rows, ("overall", everything)]:
        statuses = result["statuses"].get(name) or {}
        if name == "overall":
            statuses = {}
            for counts in result["statuses"].values():
                for status, n in counts.items():
                    statuses[status] = statuses.get(status, 0) + n
        single = f"{unloaded[name]:>6.1f}ms" if name in unloaded else " " * 8
        single += f" {cpu[name]:>6.1f}ms" if name in cpu else " " * 9
        print(f"  {name:<36} {single} {len(values):>6} {percentile(values, 0.5):>6.1f}ms "
              f"{percentile(values, 0.95):>6.1f}ms {percentile(values, 0.99):>6.1f}ms  "
              f"{json.dumps(statuses, sort_keys=True)}")  # fmt: skip
    print(f"  {len(everything) / seconds:.0f} requests/s answered over the {seconds:.0f} s "
          f"measured; {result['late_sends']} sends were late by > 50 ms")  # fmt: skip
    sent = max(1, result["sent"])
    server, client = result["server_cpu_seconds"], result["client_cpu_seconds"]
    print(f"  CPU per request sent, warm-up included: server {server * 1000 / sent:.1f} ms, "
          f"load client {client * 1000 / sent:.2f} ms")  # fmt: skip


def run_one(backend: str, args: argparse.Namespace, store_path: Path, events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, database(backend) as url:
        data_dir = Path(tmp) / "var"
        data_dir.mkdir()
        state_url = url or f"sqlite:///{data_dir / 'soc.db'}"
        started = time.perf_counter()
        seeded = seed(state_url, store_path, args.alerts, events, args.events)
        print(f"{backend}: seeded {args.alerts:,} alerts in {time.perf_counter() - started:.0f} s")
        if args.explain:
            explain_all(state_url, store_path, seeded)
        for workers in args.workers:
            with server(data_dir, state_url, store_path, workers) as (base, pid):
                every = kinds(base, seeded)
                unloaded, cpu = alone(base, pid, every, args.alone)
                if args.alone_only:
                    print(
                        f"{backend}, {workers} API worker(s), each kind alone "
                        f"({args.alone} requests); load average {os.getloadavg()[0]:.1f}"
                    )
                    print(f"  {'request kind':<52} {'alone':>8} {'CPU':>8}")
                    for name in unloaded:
                        print(f"  {name:<52} {unloaded[name]:>6.1f}ms {cpu[name]:>6.1f}ms")
                    continue
                phases = [("every kind", every)]
                if not args.every_kind_only:
                    core = [k for k in every if not k["name"].startswith(FULL_SCANS)]
                    phases.insert(0, ("without the kinds that scan every alert or event", core))
                results = [
                    (name, load(tmp, base, pid, args, rate, mix))
                    for name, mix in phases
                    for rate in args.rate
                ]
            for name, result in results:
                print(f"{backend}, {workers} API worker(s), {name}: {result['rate']:.0f} "
                      f"requests/s, {args.seconds:.0f} s after {args.warmup:.0f} s of warm-up; "
                      f"load average {result['load_average']:.1f}")  # fmt: skip
                report(result, args.seconds, unloaded, cpu)


@contextmanager
def database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
    else:
        with throwaway_database() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--rate", type=lambda t: [float(r) for r in t.split(",")], default=[200],
                        help="requests a second; a list (50,100,200): each in turn")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--state", default="sqlite,postgresql")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--workers", type=lambda t: [int(n) for n in t.split(",")], default=[1],
                        help="citysoc serve --workers N; a list (1,2): each in turn")  # fmt: skip
    parser.add_argument("--alone", type=int, default=20, help="requests per kind, one at a time")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--as-far-as-built", action="store_true",
                        help="use the unfinished store as it is (stop its build)")  # fmt: skip
    parser.add_argument(
        "--alone-only",
        action="store_true",
        help="only the timings of each kind alone (latency, CPU): no load",
    )
    parser.add_argument("--every-kind-only", action="store_true",
                        help="skip the first load run, without the full scans")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    started = time.perf_counter()
    store_path, events = event_store(args.events, as_far_as_built=args.as_far_as_built)
    size = store_path.stat().st_size / 2**30
    print(f"event store {store_path} ({events:,} of {args.events:,} events, {size:.1f} GiB), "
          f"ready in {time.perf_counter() - started:.0f} s")  # fmt: skip
    if args.prepare_only:
        return
    for backend in args.state.split(","):
        run_one(backend, args, store_path, events)


if __name__ == "__main__":
    main()
