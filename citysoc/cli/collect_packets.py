"""``citysoc collect pcap|iface``: capture files and live interfaces into ECS events.

stdout keeps one JSON summary line per source (for scripts); stderr shows a progress bar
for large files (when it is a terminal) and a closing summary for people: packets,
events, errors and skips by reason, throughput.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import time
from contextlib import closing
from pathlib import Path
from types import FrameType

from citysoc.cli.collect import collect_events, summary_line
from citysoc.cli.output import ByteProgress, note, say
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from collectors.delivery.batches import TimedBatches
from collectors.pipeline import ShipReport
from collectors.stats import CollectorStats
from eventstore.open import open_event_store

# The packet modules load scapy (about 70 ms): each command imports them when it runs, so
# that `citysoc collect eve` and the others, which share this parser, start without them.

PROGRESS_FROM_BYTES = 8 * 1024 * 1024
LIVE_BATCH_EVENTS = 500
LIVE_BATCH_SECONDS = 2.0


def add_parsers(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pcap = kinds.add_parser(
        "pcap", help="read capture files (flows, DNS, HTTP, RTSP, Modbus, Telnet, SSH, ONVIF)"
    )
    pcap.add_argument("paths", nargs="+", type=Path)
    pcap.add_argument(
        "--reader",
        choices=("builtin", "tshark", "auto"),
        default="auto",
        help="built-in decoder, tshark's, or auto (default): tshark for pcapng files when "
        "it is installed, the faster built-in decoder for pcap",
    )
    _common(pcap)
    pcap.set_defaults(func=run_pcap)
    iface = kinds.add_parser("iface", help="capture live from a network interface (tshark)")
    iface.add_argument("interface")
    iface.add_argument("--bpf", help="capture filter, e.g. 'tcp port 554 or port 23'")
    iface.add_argument("--duration", type=float, help="stop after this many seconds")
    iface.add_argument("--count", type=int, help="stop after this many packets")
    iface.add_argument("--netns", help="capture inside this network namespace")
    _common(iface)
    iface.set_defaults(func=run_iface)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--media", action="store_true", help="keep RTP/RTCP media packets")
    parser.add_argument("--agency", help="agency of events outside the topology")


def choose_reader(choice: str, path: Path) -> str:
    """``builtin`` or ``tshark`` for this file.

    ``auto`` picks tshark only for pcapng: the built-in reader reads those through scapy
    (about 7,500 packets/s), while on classic pcap it is faster end to end than the tshark
    reader (measured in benchmarks/bench_pcap.py: tshark must print every payload in hex).
    """
    if choice != "auto":
        return choice
    if shutil.which("tshark") is None:
        return "builtin"
    from collectors.sources.pcapfile import capture_info

    return "tshark" if capture_info(path).kind == "pcapng" else "builtin"


def run_pcap(args: argparse.Namespace, settings: Settings) -> int:
    from collectors.packets.pcap import read_pcap
    from collectors.sources.tshark import read_pcap_tshark

    topology = load_topology(settings.topology_path)
    agency = args.agency or settings.default_agency
    with closing(open_event_store(settings)) as store:
        for path in args.paths:
            reader = choose_reader(args.reader, path)
            read = read_pcap_tshark if reader == "tshark" else read_pcap
            stats = CollectorStats()
            started = time.perf_counter()
            with ByteProgress(path, PROGRESS_FROM_BYTES) as progress:
                events = read(path, stats, include_media=args.media, progress=progress)
                report = collect_events(
                    events, stats, store=store, topology=topology, default_agency=agency
                )
            _closing_summary(f"{path} ({reader} reader)", stats, report, started)
            say(summary_line(path, stats, report))
    return 0


def _closing_summary(
    source: str, stats: CollectorStats, report: ShipReport, started: float
) -> None:
    seconds = max(time.perf_counter() - started, 1e-9)
    note(
        f"[bold]{source}[/bold]: {stats.received:,} packets, {stats.events:,} events "
        f"({report.stored:,} stored, {report.duplicates:,} already stored) in {seconds:.1f}s, "
        f"{stats.received / seconds:,.0f} packets/s"
    )
    for title, counts in (("errors", stats.errors), ("skipped", stats.skipped)):
        if counts:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in counts.most_common())
            note(f"  {title}: {reasons}")


def run_iface(args: argparse.Namespace, settings: Settings) -> int:
    from collectors.sources.live import LiveCapture, LiveOptions

    options = LiveOptions(
        interface=args.interface,
        bpf=args.bpf,
        duration=args.duration,
        count=args.count,
        include_media=args.media,
        netns=args.netns,
    )
    stats = CollectorStats()
    capture = LiveCapture(options, stats)
    topology = load_topology(settings.topology_path)
    agency = args.agency or settings.default_agency
    started = time.perf_counter()
    capture.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        capture.stop()  # tshark flushes, the pipe ends, open flows are reported

    previous = signal.signal(signal.SIGINT, stop)
    total = ShipReport()
    try:
        with closing(open_event_store(settings)) as store:
            # Small batches, so events reach the store while the capture runs, each ending on
            # time even when the segment goes quiet.
            batches = TimedBatches(
                capture.events(), max_events=LIVE_BATCH_EVENTS, seconds=LIVE_BATCH_SECONDS
            )
            while not batches.ended:
                report = collect_events(
                    batches.batch(), stats, store=store, topology=topology, default_agency=agency
                )
                total.stored += report.stored
                total.duplicates += report.duplicates
    finally:
        signal.signal(signal.SIGINT, previous)
    _closing_summary(capture.name, stats, total, started)
    say(summary_line(capture.name, stats, total))
    return 0
