"""SOC API benchmarks: alert list latency with 100,000 alerts stored, bulk ingest over HTTP.

The server is ``citysoc serve`` in its own process on 127.0.0.1; this process is the load.
Run: .venv/bin/python benchmarks/bench_api.py [--alerts 100000] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import insert

from citysoc.core.settings import Settings
from soc_api.alerts.models import Alert
from soc_api.auth.models import TokenScope
from soc_api.auth.tokens import create_token
from soc_api.db import init_state, make_engine, transaction

AGENCIES = ("d1", "tanbinh", "dc", "ioc", "dot")
SEVERITIES = ("low", "medium", "high", "critical")


def seed_alerts(settings: Settings, count: int) -> dict[str, str]:
    sessions = init_state(make_engine(settings.resolved_state_url))
    rows = [
        {"rule_id": f"r{i % 40}", "rule_name": f"rule_{i % 40}", "title": f"Alert {i}",
         "severity": SEVERITIES[i % 4], "risk_score": 20 + i % 80, "status": "new",
         "agency": AGENCIES[i % 5], "segment": "cam", "security_level": 3,
         "entity": {"source.ip": f"198.51.{i // 250 % 256}.{i % 250}"},
         "dedup_key": f"r{i % 40}|{i}", "event_ids": [f"e{i}"], "event_count": 1,
         "first_seen": f"2026-11-{1 + i % 28:02d}T00:00:{i % 60:02d}Z",
         "last_seen": f"2026-11-{1 + i % 28:02d}T01:00:{i % 60:02d}Z", "runbook": "",
         "tags": [], "note": "", "observables": [f"ip:198.51.{i // 250 % 256}.{i % 250}"]}
        for i in range(count)
    ]  # fmt: skip
    with transaction(sessions) as session:
        for start in range(0, count, 10_000):
            session.execute(insert(Alert), rows[start : start + 10_000])
        return {  # the transaction commits as the block is left
            name: create_token(
                session, name=f"bench-{name}", scope=scope, agency=agency, days=1, actor="bench"
            ).token
            for name, scope, agency in (
                ("read", TokenScope.READ, None),
                ("read-d1", TokenScope.READ, "d1"),
                ("ingest", TokenScope.INGEST, None),
            )
        }


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "CITYSOC_DATA_DIR": str(data_dir),
        "CITYSOC_LOG_LEVEL": "WARNING",
        "CITYSOC_INGEST_RATE_PER_SECOND": "100000",
        "CITYSOC_DETECTION_INTERVAL_SECONDS": "3600",
    }
    proc = subprocess.Popen([sys.executable, "-m", "citysoc.cli.main", "serve", "--host",
                             "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/health", timeout=2)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_list(base: str, token: str, requests: int, workers: int, params: dict[str, str]) -> str:
    headers = {"Authorization": f"Bearer {token}"}

    def one(i: int) -> float:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            started = time.perf_counter()
            response = client.get("/api/v1/alerts", params={**params, "offset": str(i % 20 * 50)})
            assert response.status_code == 200
            return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        times = list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
    return (f"p50 {statistics.median(times):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
            f"{requests / elapsed:.0f} req/s ({workers} concurrent clients)")  # fmt: skip


def bench_ingest(base: str, token: str, batches: int, size: int) -> str:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    total = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        for b in range(batches):
            body = "\n".join(json.dumps({
                "@timestamp": f"2026-11-21T05:{b % 60:02d}:{i % 60:02d}.{i:06d}Z",
                "source.ip": f"198.51.100.{i % 250}", "destination.ip": f"10.31.0.{i % 200 + 1}",
                "network.transport": "tcp", "destination.port": 554, "event.action": "flow",
                "event.id": f"bench-{b}-{i}"}) for i in range(size))  # fmt: skip
            report = client.post("/api/v1/ingest", content=body).json()
            total += report["stored"]
        elapsed = time.perf_counter() - started
    return f"{total / elapsed:,.0f} events/s ({batches} batches of {size}, enriched and stored)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var")
        started = time.perf_counter()
        tokens = seed_alerts(settings, args.alerts)
        print(f"seeded {args.alerts:,} alerts in {time.perf_counter() - started:.1f}s")
        proc, base = start_server(settings.data_dir)
        try:
            print(
                "alert list, city-wide, by risk:  ",
                bench_list(base, tokens["read"], args.requests, args.workers, {}),
            )
            print(
                "alert list, one agency, by risk: ",
                bench_list(base, tokens["read-d1"], args.requests, args.workers, {}),
            )
            print(
                "alert list, filtered, newest:    ",
                bench_list(
                    base,
                    tokens["read"],
                    args.requests,
                    args.workers,
                    {"severity": "high", "status": "new", "sort": "newest"},
                ),
            )
            print(
                "bulk ingest over HTTP:           ",
                bench_ingest(base, tokens["ingest"], batches=20, size=2000),
            )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
