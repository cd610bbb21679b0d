"""EVE lines → ECS events stored in SQLite, per second; and peak memory at 10x the input.

Generates realistic Suricata 7 EVE lines (flows, DNS, HTTP, TLS, alerts, fileinfo, anomalies
across the example city's segments), then times, in one run:

* parse: ``read_eve`` alone;
* direct: parse, enrich and store (``ship`` without a buffer: the demo's path);
* buffered: the same through the disk buffer (``ship`` with a ``DiskBuffer``), delivered
  from the reading thread;
* background: through the disk buffer delivered by a ``BackgroundShipper`` thread, in
  batches of 2,000: what ``citysoc collect syslog --listen`` and the ``drop-oldest`` buffer
  policy use;
* own process: a spawned delivery process beside the reader (``ProcessShipper``), in batches
  of 2,000 lines: the reader stores the batches it parses itself and hands the delivery
  process the next lines unparsed whenever it is about to run out of work; the two take turns
  at the store. What ``citysoc collect eve FILE`` does; with the CPU time each process spent;
* CLI: the command ``citysoc collect eve FILE`` itself, start-up included, in a fresh data
  directory;
* follow: ``citysoc collect eve --follow FILE`` from its start until every line is stored
  (the store is polled every 0.1 s), start-up included;
* the store's own limit: the same enriched events, parsed and enriched beforehand, written
  by ``SqliteEventStore.write`` in batches of 2,000 (what a sink is handed), and by plain
  ``executemany`` of the same rows into the same table layout (grouped by field set, 20,000
  rows a transaction, the store's connection settings); then every path above as a ratio of
  plain ``executemany``, and the CPU time per event of each step (where the time goes).

``--memory`` runs the buffered path and the command in child processes on N and 10 x N lines
and prints the peak resident set size of each (bounded memory: it must not grow with the
input; for the command, of the larger of its two processes).

    .venv/bin/python benchmarks/bench_eve.py --lines 500000
    .venv/bin/python benchmarks/bench_eve.py --lines 200000 --rounds 3 --paths process,cli
    .venv/bin/python benchmarks/bench_eve.py --memory --lines 50000
    .venv/bin/python benchmarks/bench_eve.py --profile --lines 100000
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors import NATIVE
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.buffer_roles import AppendingBuffer
from collectors.delivery.process import ProcessShipper
from collectors.delivery.shipper import BackgroundShipper
from collectors.delivery.sinks import SinkSpec, SqliteSink, open_sink
from collectors.enrich import Enricher, enricher_for
from collectors.pipeline import ship
from collectors.sources.eve import BATCH_LINES, parse_lines, read_eve, read_eve_lines
from collectors.stats import CollectorStats
from eventstore.sqlite import TABLE, SqliteEventStore, connect, quote

REPO = Path(__file__).resolve().parents[1]
CLIENTS = [f"10.20.0.{n}" for n in range(10, 60)] + [f"203.0.113.{n}" for n in range(1, 40)]
SERVERS = ["10.10.0.20", "10.10.0.21", "10.50.0.53", "10.31.0.15", "10.32.1.15"]


def record(n: int, rng: random.Random) -> dict[str, object]:
    stamp = f"2026-11-20T{n // 3_600_000 % 24:02d}:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}"
    base: dict[str, object] = {
        "timestamp": f"{stamp}.{n % 1000:03d}{rng.randrange(1000):03d}+0000",
        "flow_id": 1_000_000_000 + n,
        "in_iface": "ens4",
        "src_ip": rng.choice(CLIENTS),
        "src_port": rng.randrange(1024, 65535),
        "dest_ip": rng.choice(SERVERS),
        "dest_port": 443,
        "proto": "TCP",
        "community_id": f"1:{rng.getrandbits(88):022x}=",
    }
    kind = rng.random()
    if kind < 0.5:
        base |= {
            "event_type": "flow",
            "app_proto": "tls",
            "flow": {
                "pkts_toserver": rng.randrange(1, 90),
                "pkts_toclient": rng.randrange(1, 90),
                "bytes_toserver": rng.randrange(60, 90000),
                "bytes_toclient": rng.randrange(60, 900000),
                "start": f"{stamp}.000000+0000",
                "end": f"{stamp}.900000+0000",
                "age": 0,
                "state": "closed",
                "reason": "timeout",
                "alerted": False,
            },
        }
    elif kind < 0.7:
        base |= {
            "event_type": "dns",
            "proto": "UDP",
            "dest_port": 53,
            "dns": {
                "version": 2,
                "type": "answer",
                "id": n % 65535,
                "flags": "8180",
                "rrname": f"host{n % 500}.hochiminhcity.gov.vn.example",
                "rrtype": "A",
                "rcode": "NOERROR",
                "answers": [{"rrname": "x", "rrtype": "A", "ttl": 300, "rdata": "10.10.0.20"}],
            },
        }
    elif kind < 0.8:
        base |= {
            "event_type": "http",
            "dest_port": 80,
            "tx_id": 0,
            "http": {
                "hostname": "portal.hochiminhcity.gov.vn.example",
                "url": f"/dich-vu-cong?ma={n}",
                "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
                "http_content_type": "text/html",
                "http_method": "GET",
                "protocol": "HTTP/1.1",
                "status": 200,
                "length": rng.randrange(100, 90000),
            },
        }
    elif kind < 0.9:
        base |= {
            "event_type": "tls",
            "tls": {
                "sni": "portal.hochiminhcity.gov.vn.example",
                "version": "TLS 1.3",
                "ja3": {"hash": f"{rng.getrandbits(128):032x}"},
                "ja3s": {"hash": f"{rng.getrandbits(128):032x}"},
            },
        }
    elif kind < 0.95:
        base |= {
            "event_type": "alert",
            "dest_port": 80,
            "app_proto": "http",
            "alert": {
                "action": "allowed",
                "gid": 1,
                "signature_id": 2034125,
                "rev": 2,
                "signature": "ET EXPLOIT Hikvision IP Camera Command Injection (CVE-2021-36260)",
                "category": "Attempted Administrator Privilege Gain",
                "severity": 1,
                "metadata": {"mitre_tactic_id": ["TA0001"], "mitre_technique_id": ["T1190"]},
            },
        }
    elif kind < 0.98:
        base |= {
            "event_type": "fileinfo",
            "fileinfo": {
                "filename": f"/upload/{n}.pdf",
                "magic": "PDF document",
                "state": "CLOSED",
                "stored": False,
                "size": 52000,
                "sha256": f"{rng.getrandbits(256):064x}",
                "tx_id": 0,
            },
        }
    else:
        base |= {"event_type": "anomaly", "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt"}}
    return base


def generate(path: Path, lines: int) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        for n in range(lines):
            out.write(json.dumps(record(n, rng), separators=(",", ":")) + "\n")


def timed_run(eve: Path, work: Path, *, buffered: bool) -> tuple[float, int]:
    topology = load_topology(BUNDLED_TOPOLOGY)
    stats = CollectorStats()
    store_path = work / ("buffered.db" if buffered else "direct.db")
    store_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with SqliteEventStore(store_path) as store:
        buffer = DiskBuffer(work / "buffer") if buffered else None
        report = ship(
            read_eve(eve, stats),
            enrich=Enricher(topology, "dic"),
            sink=SqliteSink(store),
            stats=stats,
            buffer=buffer,
        )
        if buffer is not None:
            buffer.close()
    return time.perf_counter() - started, report.stored


def background_run(eve: Path, work: Path) -> tuple[float, int]:
    """What ``citysoc collect eve FILE`` does: batches of 2,000 to a background shipper."""
    stats = CollectorStats()
    (work / "background.db").unlink(missing_ok=True)
    started = time.perf_counter()
    with SqliteEventStore(work / "background.db") as store, DiskBuffer(work / "bg") as buffer:
        shipper = BackgroundShipper(
            enrich=Enricher(load_topology(BUNDLED_TOPOLOGY), "dic"),
            sink=SqliteSink(store),
            buffer=buffer,
            stats=stats,
        )
        batch: list[dict[str, object]] = []
        for event in read_eve(eve, stats):
            batch.append(event)
            if len(batch) >= 2000:
                shipper.put(batch)
                batch = []
        shipper.put(batch)
        shipper.flush()
        report = shipper.close()
    return time.perf_counter() - started, report.stored


def process_run(eve: Path, work: Path) -> tuple[float, int]:
    """What ``citysoc collect eve FILE`` does: a second process delivers from the buffer, and
    parses the batches of lines it is handed when it would otherwise wait."""
    stats = CollectorStats()
    (work / "process.db").unlink(missing_ok=True)
    own, children = time.process_time(), cpu_of_children()
    started = time.perf_counter()
    with SqliteEventStore(work / "process.db") as store, AppendingBuffer(work / "pr") as buffer:
        shipper = ProcessShipper(
            make_enrich=partial(enricher_for, BUNDLED_TOPOLOGY, "dic"),
            sink=SqliteSink(store),
            buffer=buffer,
            stats=stats,
            open_sink=partial(open_sink, SinkSpec("sqlite", store_path=work / "process.db")),
        )
        handed = 0
        for lines in read_eve_lines(eve, stats):
            if shipper.wants_lines():
                shipper.put_lines(lines)
                handed += 1
            else:
                shipper.put(parse_lines(lines, stats))
        shipper.flush()
        report = shipper.close()
    seconds = time.perf_counter() - started
    reading, delivering = time.process_time() - own, cpu_of_children() - children
    batches = -(-stats.received // BATCH_LINES)
    print(
        f"  CPU per event: reading process {reading / report.stored * 1e6:.1f} µs, delivery "
        f"process {delivering / report.stored * 1e6:.1f} µs; the delivery process parsed "
        f"{handed} of {batches} batches of lines"
    )
    return seconds, report.stored


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_run(eve: Path, work: Path) -> tuple[float, int]:
    """The command itself, in a data directory of its own (start-up included)."""
    data = work / "cli-var"
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", str(eve)]
    env = {**os.environ, "CITYSOC_DATA_DIR": str(data)}
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    with SqliteEventStore(data / "events.db") as store:
        return seconds, store.count()


def follow_run(eve: Path, work: Path) -> tuple[float, int]:
    """``collect eve --follow`` from start-up until the store holds every line (then stopped)."""
    data = work / "follow-var"
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", "--follow", str(eve)]
    env = {**os.environ, "CITYSOC_DATA_DIR": str(data)}
    with eve.open("rb") as handle:
        lines = sum(1 for _ in handle)
    started = time.perf_counter()
    follower = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    count = 0
    try:
        while count < lines and follower.poll() is None:
            time.sleep(0.1)
            if (data / "events.db").exists():
                reader = connect(data / "events.db", readonly=True)
                with contextlib.suppress(sqlite3.OperationalError):  # no table yet
                    count = reader.execute("SELECT COUNT(*) FROM events").fetchone()[0]
                reader.close()
        seconds = time.perf_counter() - started
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=120)
    return seconds, count


PATHS = {
    "direct": ("parse+enrich+store", partial(timed_run, buffered=False)),
    "buffered": ("through disk buffer", partial(timed_run, buffered=True)),
    "background": ("background shipper", background_run),
    "process": ("own process", process_run),
    "cli": ("collect eve (CLI)", cli_run),
    "follow": ("--follow (CLI)", follow_run),
}


def throughput(lines: int, *, rounds: int = 1, paths: list[str] | None = None) -> None:
    say_machine()
    runs: list[tuple[str, Callable[[Path, Path], tuple[float, int]]]] = [
        PATHS[key] for key in paths or list(PATHS)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        eve = work / "eve.json"
        started = time.perf_counter()
        generate(eve, lines)
        print(
            f"generated {lines:,} EVE lines ({eve.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        rates: dict[str, list[float]] = {}
        for round_ in range(1, rounds + 1):
            if rounds > 1:
                print(f"round {round_} of {rounds}")
            settle(work, keep=eve)
            stats = CollectorStats()
            started = time.perf_counter()
            parsed = sum(1 for _ in read_eve(eve, stats))
            seconds = time.perf_counter() - started
            print(f"parse only:        {parsed / seconds:10,.0f} events/s ({seconds:.1f}s)")
            rates.setdefault("parse only", []).append(parsed / seconds)
            for name, run in runs:
                settle(work, keep=eve)
                seconds, stored = run(eve, work)
                rates.setdefault(name, []).append(stored / seconds)
                print(
                    f"{name:19s}{stored / seconds:10,.0f} events/s "
                    f"({seconds:.1f}s, {stored:,} stored)"
                )
            settle(work, keep=eve)
            for name, rate in store_limit(eve, work).items():
                rates.setdefault(name, []).append(rate)
        plain = statistics.median(rates["plain executemany"])
        print(
            f"median of {rounds}, events/s, and as a ratio of plain executemany of the same rows:"
        )
        for name, found in rates.items():
            rate = statistics.median(found)
            print(f"  {name:26s}{rate:10,.0f}{rate / plain:7.2f}x")


def store_limit(eve: Path, work: Path) -> dict[str, float]:
    """The same enriched events into the store by ``SqliteEventStore.write`` and by plain
    ``executemany``, each step timed apart: events/s by name, and the steps printed."""
    stats = CollectorStats()
    started = time.perf_counter()
    parsed = list(read_eve(eve, stats))
    parse = time.perf_counter() - started
    enrich = Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")
    started = time.perf_counter()
    events = [enrich(event) for event in parsed]
    enriching = time.perf_counter() - started
    del parsed
    with SqliteEventStore(work / "write.db") as store:
        started = time.perf_counter()
        stored = sum(
            store.write(events[n : n + 2000]).inserted for n in range(0, len(events), 2000)
        )
        writing = time.perf_counter() - started
    settle(work, keep=eve)
    with SqliteEventStore(work / "plain.db") as store:  # the same table layout, empty
        store.ensure_columns({name for event in events for name in event})
    transactions = plain_batches(events)
    count = max(1, len(events))
    del events
    conn = connect(work / "plain.db")
    started = time.perf_counter()
    plain_stored = 0
    for statements in transactions:
        with conn:
            for sql, rows in statements:
                plain_stored += conn.executemany(sql, rows).rowcount
    plain = time.perf_counter() - started
    conn.close()
    for name, seconds in (
        ("parse (read_eve, in one process)", parse),
        ("enrich", enriching),
        ("SqliteEventStore.write", writing),
        ("plain executemany", plain),
    ):
        print(f"  {name:34s}{seconds / count * 1e6:6.1f} µs per event")
    print(f"store.write{stored / writing:18,.0f} events/s ({writing:.1f}s, {stored:,} stored)")
    print(
        f"plain executemany{plain_stored / plain:12,.0f} events/s "
        f"({plain:.1f}s, {plain_stored:,} stored)"
    )
    return {"store.write": stored / writing, "plain executemany": plain_stored / plain}


def plain_batches(
    events: list[dict[str, object]],
) -> list[list[tuple[str, list[tuple[object, ...]]]]]:
    """Transactions of 20,000 events, each a list of (INSERT, rows) by field set; lists and
    objects as JSON text, as the store keeps them."""
    transactions = []
    for n in range(0, len(events), 20_000):
        groups: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
        for event in events[n : n + 20_000]:
            row = tuple(
                json.dumps(v) if isinstance(v, list | tuple | dict) else v for v in event.values()
            )
            groups.setdefault(tuple(event), []).append(row)
        transactions.append(
            [
                (
                    f"INSERT OR IGNORE INTO {TABLE} ({', '.join(map(quote, keys))}) "
                    f"VALUES ({', '.join('?' * len(keys))})",
                    rows,
                )
                for keys, rows in groups.items()
            ]
        )
    return transactions


def settle(work: Path, *, keep: Path) -> None:
    """Remove what the run before left, and write its dirty pages out: each run starts alike
    instead of paying for the gigabyte of SQLite pages the one before left to the kernel."""
    for path in work.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path != keep:
            path.unlink()
    os.sync()


def memory(lines: int) -> None:
    say_machine()
    for count in (lines, lines * 10):
        child = subprocess.run(
            [sys.executable, __file__, "--child-rss", "--lines", str(count)],
            check=True,
            capture_output=True,
            text=True,
        )
        print(child.stdout.strip())


def child_rss(lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "eve.json", lines)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds, stored = timed_run(work / "eve.json", work, buffered=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"{lines:>9,} lines, buffered path: {stored:,} stored in {seconds:.1f}s; "
            f"peak RSS {peak / 1024:.0f} MiB (before the run {before / 1024:.0f} MiB)"
        )
        seconds, stored = cli_run(work / "eve.json", work)
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # reader or deliverer
        print(
            f"{lines:>9,} lines, collect eve (CLI): {stored:,} stored in {seconds:.1f}s; "
            f"peak RSS of its larger process {largest / 1024:.0f} MiB"
        )


def profile(lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "eve.json", lines)
        profiler = cProfile.Profile()
        profiler.runcall(timed_run, work / "eve.json", work, buffered=True)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def say_machine() -> None:
    compiled = NATIVE.compiled()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}; "
        f"compiled with mypyc: {', '.join(compiled) or 'nothing (all Python)'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="repeat; print medians")
    parser.add_argument(
        "--paths", help=f"comma-separated, of: {', '.join(PATHS)} (default: all)", default=""
    )
    parser.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_rss(args.lines)
    elif args.memory:
        memory(args.lines)
    elif args.profile:
        profile(args.lines)
    else:
        paths = [p for p in args.paths.split(",") if p]
        unknown = sorted(set(paths) - set(PATHS))
        if unknown:
            parser.error(f"unknown paths: {', '.join(unknown)}")
        throughput(args.lines, rounds=args.rounds, paths=paths)


if __name__ == "__main__":
    main()
