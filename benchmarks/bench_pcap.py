"""Benchmark: pcap → stored ECS events, against plain tshark field extraction.

Method (one run, same machine, same file):

1. Generate a mixed city capture of N packets (default 1,000,000) into ``benchmarks/out/``.
   scapy builds each conversation of the demo scenario once (RTSP pulls with RTP media,
   portal HTTP, DNS, Modbus polling and writes, SSH, Telnet scans, WS-Discovery); the
   benchmark then replicates those templates with ``struct``, giving each copy its own
   addresses (same segments), client port and start time, 64 conversations interleaved
   at a time, packets in time order. IP/TCP checksums are not recomputed (neither reader
   checks them).
2. Time ``tshark -r FILE -T fields -e frame.time_epoch -e ip.src -e ip.dst -e tcp.srcport
   -e tcp.dstport > /dev/null``: the reference rate.
   Wall clock and CPU time (``getrusage``) are both reported: on a shared machine the
   CPU-time ratio is the steadier figure.
3. Time ``citysoc`` end to end, each reader in its own process: read, decode, flows,
   application events, enrichment from the topology, and storage in a fresh SQLite event
   store, in batches. Report packets/s, the ratio to tshark and the peak resident memory
   of the process (``ru_maxrss``).
4. With ``--memory``, read a capture ten times larger with the built-in reader and compare
   its peak memory with the 1x run: flows are swept by idle timeout and the store writes
   in batches, so memory should stay flat.

Run: ``.venv/bin/python benchmarks/bench_pcap.py [--packets N] [--memory]``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import struct
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from citysoc.cli.output import say  # noqa: E402
from collectors import generator  # noqa: E402

OUT = REPO / "benchmarks" / "out"
CONCURRENT = 64
Frame = tuple[float, bytes]  # time relative to the conversation's start, Ethernet frame


def templates() -> list[list[Frame]]:
    """Every conversation of the demo scenario, as raw frames with relative times."""
    flows: dict[tuple[object, ...], list[tuple[float, bytes]]] = defaultdict(list)
    for pkt in sorted(generator.demo_capture().packets, key=lambda p: float(p.time)):
        raw = bytes(pkt)
        src, dst, sport, dport = raw[26:30], raw[30:34], raw[34:36], raw[36:38]
        key = (*sorted(((src, sport), (dst, dport))), raw[23])
        flows[key].append((float(pkt.time), raw))
    out = []
    for frames in flows.values():
        start = frames[0][0]
        out.append([(when - start, raw) for when, raw in frames])
    return out


def _renamer(rng: random.Random) -> dict[bytes, bytes]:
    """New host parts for the internal and external addresses of one copy."""
    names: dict[bytes, bytes] = {}
    for raw in _ADDRESSES:
        if raw[0] == 239:
            names[raw] = raw
        elif raw[0] == 10:
            names[raw] = raw[:2] + bytes((raw[2] & 0xFC | rng.randrange(4), rng.randrange(1, 255)))
        else:
            names[raw] = raw[:3] + bytes((rng.randrange(1, 255),))
    return names


_ADDRESSES: set[bytes] = set()


def _copy(template: list[Frame], start: float, rng: random.Random) -> list[Frame]:
    names = _renamer(rng)
    client = template[0][1][26:30]
    client_port = struct.pack("!H", rng.randrange(1024, 65535))
    first_sport = template[0][1][34:36]
    out = []
    for when, raw in template:
        src, dst = raw[26:30], raw[30:34]
        sport, dport = raw[34:36], raw[36:38]
        if src == client and sport == first_sport and raw[23] in (6, 17):
            sport = client_port if int.from_bytes(sport, "big") >= 1024 else sport
        elif raw[23] in (6, 17) and dport == first_sport:
            dport = client_port if int.from_bytes(dport, "big") >= 1024 else dport
        frame = raw[:26] + names[src] + names[dst] + sport + dport + raw[38:]
        out.append((start + when, frame))
    return out


def write_city_pcap(path: Path, packets: int, seed: int = 6179) -> int:
    """A mixed city capture of about ``packets`` packets; returns the exact count."""
    rng = random.Random(seed)
    convs = templates()
    for conv in convs:
        for _, raw in conv:
            _ADDRESSES.update((raw[26:30], raw[30:34]))
    path.parent.mkdir(parents=True, exist_ok=True)
    written, clock = 0, generator.BASE_EPOCH
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while written < packets:
            batch: list[Frame] = []
            for _ in range(CONCURRENT):
                batch += _copy(rng.choice(convs), clock + rng.random() * 2.0, rng)
            batch.sort(key=lambda f: f[0])
            for when, raw in batch[: packets - written]:
                sec = int(when)
                usec = round((when - sec) * 1e6)
                out.write(struct.pack("<IIII", sec, usec, len(raw), len(raw)) + raw)
            written += min(len(batch), packets - written)
            clock = batch[-1][0]
    return written


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_tshark(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of plain tshark field extraction."""
    fields = ("frame.time_epoch", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport")
    command = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def run_reader(reader: str, path: Path, data_dir: Path) -> dict[str, object]:
    """Run one reader end to end in a child process; its figures as a dict."""
    shutil.rmtree(data_dir, ignore_errors=True)
    command = [sys.executable, __file__, "--child", reader, str(path), str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(reader: str, path: Path, data_dir: Path) -> None:
    """The measured run: pcap → events → enrichment → SQLite store."""
    from citysoc.cli.collect import collect_events
    from citysoc.core.settings import Settings
    from citysoc.core.topology import load_topology
    from collectors.packets.pcap import read_pcap
    from collectors.sources.tshark import read_pcap_tshark
    from collectors.stats import CollectorStats
    from eventstore.sqlite import SqliteEventStore

    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    topology = load_topology(settings.topology_path)
    read = read_pcap if reader == "builtin" else read_pcap_tshark
    stats = CollectorStats()
    started = time.perf_counter()
    with SqliteEventStore(settings.event_store_path) as store:
        report = collect_events(
            read(path, stats), stats, store=store, topology=topology, default_agency="dic"
        )
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {
        "reader": reader,
        "packets": stats.received,
        "events": stats.events,
        "stored": report.stored,
        "errors": sum(stats.errors.values()),
        "seconds": round(seconds, 2),
        "packets_per_second": round(stats.received / seconds),
        "cpu_seconds": round(cpu, 2),
        "packets_per_cpu_second": round(stats.received / cpu),
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }
    say(json.dumps(figures))


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    tshark = subprocess.run(["tshark", "-v"], capture_output=True, text=True, check=False)
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{tshark.stdout.splitlines()[0] if tshark.stdout else 'no tshark'}"
    )


def generated(packets: int) -> Path:
    path = OUT / f"city-{packets}.pcap"
    if not path.exists():
        started = time.perf_counter()
        write_city_pcap(path, packets)
        seconds = time.perf_counter() - started
        say(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.1f}s")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--readers", default="builtin,tshark")
    parser.add_argument("--memory", action="store_true", help="also read a 10x capture")
    parser.add_argument("--child", nargs=3, metavar=("READER", "PCAP", "DATA_DIR"))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    say(f"machine: {machine()}")
    path = generated(args.packets)
    wall, cpu = time_tshark(path)
    rate, cpu_rate = args.packets / wall, args.packets / cpu
    say(
        f"tshark -T fields (5 fields): {wall:.1f}s, {rate:,.0f} packets/s; "
        f"{cpu:.1f} CPU-s, {cpu_rate:,.0f} packets per CPU-second"
    )
    for reader in args.readers.split(","):
        figures = run_reader(reader, path, OUT / f"store-{reader}")
        ratio = float(str(figures["packets_per_second"])) / rate
        cpu_ratio = float(str(figures["packets_per_cpu_second"])) / cpu_rate
        say(
            f"citysoc {reader}: {json.dumps(figures)}; ratio to tshark {ratio:.2f} "
            f"(wall clock), {cpu_ratio:.2f} (CPU time)"
        )
    if args.memory:
        big = generated(args.packets * 10)
        figures = run_reader("builtin", big, OUT / "store-10x")
        say(f"citysoc builtin at 10x: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
