"""Soak: collectors at a steady rate into the store for a long time, with the detection
schedule and the API under load; memory should stay flat and no event be lost.

Three real processes, as a single-host SOC runs them:

* ``citysoc serve`` (the SOC API, the console and the detection schedule every 5 s);
* ``citysoc collect eve --follow FILE`` (the collector, its disk buffer and its delivery);
* this script: it appends EVE lines to FILE at ``--rate`` lines a second, keeps the API
  busy (alert queue, incidents, health) with a read token, and every ``--every`` seconds
  samples each process tree's resident memory, the events stored, the API's latencies and
  how far the detection schedule is behind (events stored it has not read yet).

At the end it stops writing, waits for the collector to catch up, and prints per-sample
figures and a summary: lines written, events stored, lost (written minus stored), memory
at the start of the steady state and at the end for each process, API p50/p99 and errors.
Traffic goes to 127.0.0.1 only.

    .venv/bin/python benchmarks/soak.py --minutes 60 --rate 5000 --out benchmarks/out/soak.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_eve", REPO / "benchmarks" / "bench_eve.py")
assert _spec is not None and _spec.loader is not None
bench_eve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_eve)  # the EVE record maker of the ingest benchmark


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
            # the SOC API also stores its audit checkpoints as events: not the collector's
            query = (
                'SELECT COUNT(*) FROM events WHERE "event.dataset" IS NULL '
                "OR \"event.dataset\" != 'citysoc.audit'"
            )
            return int(c.execute(query).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def detection_lag(data: Path) -> int | None:
    """Events stored that the detection schedule has not read yet (head minus checkpoint)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{data / 'soc.db'}?mode=ro", uri=True, timeout=5)
        ) as c:
            row = c.execute("SELECT position FROM checkpoints WHERE name = 'detections'").fetchone()
        with contextlib.closing(
            sqlite3.connect(f"file:{data / 'events.db'}?mode=ro", uri=True, timeout=5)
        ) as c:
            head = c.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return None
    return int(head) - (int(row[0]) if row else 0)


class Writer(threading.Thread):
    """EVE lines appended at a steady rate, in ticks of a tenth of a second."""

    def __init__(self, path: Path, rate: int) -> None:
        super().__init__(name="soak-writer", daemon=True)
        self.path, self.rate, self.written = path, rate, 0
        self.stop = threading.Event()
        self.behind = 0.0  # seconds the writer fell behind its schedule, at most

    def run(self) -> None:
        rng = random.Random(7)
        started = time.monotonic()
        with self.path.open("a", encoding="utf-8") as out:
            while not self.stop.is_set():
                due = int((time.monotonic() - started) * self.rate)
                lines = [json.dumps(bench_eve.record(n, rng)) for n in range(self.written, due)]
                if lines:
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    self.written = due
                self.behind = max(self.behind, (time.monotonic() - started) - due / self.rate)
                self.stop.wait(0.1)


class Load(threading.Thread):
    """Analyst traffic: queue, incidents and health, as fast as ``rate`` allows."""

    PATHS = ("/api/v1/alerts?limit=50", "/api/v1/incidents", "/health")

    def __init__(self, base: str, token: str, rate: float) -> None:
        super().__init__(name="soak-load", daemon=True)
        self.base, self.token, self.rate = base, token, rate
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            path = self.PATHS[n % len(self.PATHS)]
            request = urllib.request.Request(
                self.base + path, headers={"Authorization": f"Bearer {self.token}"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                self.latencies.append(time.perf_counter() - started)
            except OSError:
                self.errors += 1
            n += 1
            self.stop.wait(max(0.0, 1 / self.rate - (time.perf_counter() - started)))

    def take(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def citysoc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citysoc.cli.main", *args],
        env=env, cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.5)
    raise SystemExit(f"the SOC API did not answer at {url}")


def soak(minutes: float, rate: int, every: float, api_rate: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="citysoc-soak-"))
    data, eve = work / "var", work / "eve.json"
    eve.touch()
    port = free_port()
    env = {**os.environ, "CITYSOC_DATA_DIR": str(data), "CITYSOC_DETECTION_INTERVAL_SECONDS": "5",
           "CITYSOC_LOG_LEVEL": "WARNING"}  # fmt: skip
    citysoc(env, "db", "upgrade")
    token = citysoc(env, "token", "create", "--name", "soak", "--scope", "read").stdout
    token = next(word for word in token.split() if word.startswith("cst_"))
    server = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "serve", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    collector = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", "--follow", str(eve)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=(work / "collector.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    samples: list[dict[str, Any]] = []
    writer, load = Writer(eve, rate), Load(base, token, api_rate)
    try:
        wait_for(base + "/health", 120)
        writer.start()
        load.start()
        started = time.monotonic()
        while time.monotonic() - started < minutes * 60:
            time.sleep(every)
            latencies = load.take()
            sample = {
                "minute": round((time.monotonic() - started) / 60, 2),
                "written": writer.written,
                "stored": stored(data / "events.db"),
                "api_mb": round(tree_rss_mb(server.pid), 1),
                "collector_mb": round(tree_rss_mb(collector.pid), 1),
                "detection_lag": detection_lag(data),
                "api_requests": len(latencies),
                "api_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                "api_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
        writer.stop.set()
        writer.join()
        deadline = time.monotonic() + 300
        while stored(data / "events.db") < writer.written and time.monotonic() < deadline:
            time.sleep(2)
        final = stored(data / "events.db")
    finally:
        writer.stop.set()
        load.stop.set()
        for proc in (collector, server):
            proc.send_signal(signal.SIGINT)
        for proc in (collector, server):
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
    steady = samples[max(0, len(samples) // 10 - 1)] if samples else {}
    last = samples[-1] if samples else {}
    p50s = [s["api_p50_ms"] for s in samples if s["api_requests"]]
    return {
        "minutes": minutes,
        "rate": rate,
        "written": writer.written,
        "stored": final,
        "lost": writer.written - final,
        "writer_behind_s": round(writer.behind, 2),
        "api_errors": load.errors,
        "api_p50_ms_median": statistics.median(p50s) if p50s else None,
        "api_p99_ms_max": max((s["api_p99_ms"] for s in samples), default=None),
        "detection_lag_max": max((s["detection_lag"] or 0 for s in samples), default=None),
        "detection_lag_end": last.get("detection_lag"),
        "memory_mb": {
            "api": [steady.get("api_mb"), last.get("api_mb")],
            "collector": [steady.get("collector_mb"), last.get("collector_mb")],
        },
        "samples": samples,
        "work": str(work),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=5000, help="EVE lines a second")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--api-rate", type=float, default=10.0, help="API requests a second")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args(argv)
    result = soak(args.minutes, args.rate, args.every, args.api_rate)
    if not args.keep:
        shutil.rmtree(result.pop("work"), ignore_errors=True)
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
