"""``citysoc collect eve|syslog|files``: logs and files into ECS events.

* ``eve FILES`` reads EVE files once; ``eve --follow PATH`` tails one, across rotation and
  truncation, with its offset kept in ``var/offsets`` (a restart goes on from there).
* ``syslog FILES`` reads syslog files; ``syslog --listen udp://127.0.0.1:5514 --listen
  tcp://127.0.0.1:5514`` receives messages over the network.
* ``files --watch DIR`` scans new and changed files with YARA rules.

Long-running sources stop on SIGTERM or Ctrl-C after delivering what they hold.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from citysoc.cli.collect import (
    LineSource,
    add_shipping_options,
    collect_files,
    collection,
    stop_on_signals,
    summary_line,
)
from citysoc.cli.output import say
from citysoc.core.errors import ConfigError, Location
from citysoc.core.settings import Settings
from collectors.sources.eve import PARSER as EVE_PARSER
from collectors.sources.eve import parse_eve_bytes, parse_lines, read_eve_lines
from collectors.sources.files import FolderWatcher, YaraRules, scan_file
from collectors.sources.follow import follow_into
from collectors.sources.receiver import SyslogReceiver, parse_endpoint
from collectors.sources.syslog import read_syslog_file
from collectors.sources.tail import FileTailer, Line, OffsetStore
from collectors.stats import CollectorStats

DEFAULT_RULES = Path("detections/yara")


def add_parsers(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    eve = kinds.add_parser("eve", help="read or follow Suricata EVE JSON files")
    eve.add_argument("paths", nargs="+", type=Path)
    eve.add_argument("--follow", action="store_true", help="tail one file until stopped")
    add_shipping_options(eve)
    eve.set_defaults(func=run_eve)
    syslog = kinds.add_parser("syslog", help="read syslog files or receive syslog over UDP/TCP")
    syslog.add_argument("paths", nargs="*", type=Path)
    syslog.add_argument(
        "--listen", action="append", default=[], metavar="URL", help="udp://HOST:PORT or tcp://..."
    )
    add_shipping_options(syslog)
    syslog.set_defaults(func=run_syslog)
    files = kinds.add_parser("files", help="scan files in watched folders with YARA")
    files.add_argument("--watch", action="append", type=Path, required=True, metavar="DIR")
    files.add_argument("--rules", type=Path, help=f"YARA rules folder (default {DEFAULT_RULES})")
    files.add_argument("--poll", type=float, default=2.0, help="seconds between folder scans")
    files.add_argument("--once", action="store_true", help="scan what is there, then stop")
    add_shipping_options(files)
    files.set_defaults(func=run_files)


EVE_LINES = LineSource("eve", read_eve_lines, parse_lines)


def run_eve(args: argparse.Namespace, settings: Settings) -> int:
    if not args.follow:
        return collect_files(args.paths, EVE_LINES, settings, args.agency, args)
    if len(args.paths) != 1:
        raise ConfigError("--follow takes exactly one EVE file")
    path: Path = args.paths[0]
    stats, stop = CollectorStats(), stop_on_signals()
    tailer = FileTailer(path, OffsetStore(settings.data_dir / "offsets"))

    def parse(line: Line) -> dict[str, object] | None:
        where = Location(str(path), offset=line.start)
        if not line.complete:
            stats.received += 1
            stats.error("eve-partial-line", where, f"{len(line.data)} bytes without newline")
            return None
        return parse_eve_bytes(line.data, where, stats)

    with (
        collection(settings, args) as run,
        run.shipper("eve", str(path.resolve()), stats, own_process=True) as ship,
    ):
        follow_into(tailer, parse, ship, stop, parser_name=EVE_PARSER)
        ship.flush(timeout=run.options.drain_timeout)
        say(summary_line(path, stats, ship.close()))
    return 0


def run_syslog(args: argparse.Namespace, settings: Settings) -> int:
    if not args.listen:
        if not args.paths:
            raise ConfigError("give syslog files or --listen udp://HOST:PORT / tcp://HOST:PORT")
        return collect_files(args.paths, read_syslog_file, settings, args.agency, args)
    endpoints = [parse_endpoint(text) for text in args.listen]
    stats, stop = CollectorStats(), stop_on_signals()
    identity = ",".join(sorted(str(e) for e in endpoints))
    with collection(settings, args) as run, run.shipper("syslog", identity, stats) as ship:
        topology = run.topology
        receiver = SyslogReceiver(
            ship, stats, known_host=lambda name: topology.host_address(name) is not None
        )
        asyncio.run(receiver.run(endpoints, stop))
        ship.flush(timeout=run.options.drain_timeout)
        say(summary_line(identity, stats, ship.close()))
    return 0


def run_files(args: argparse.Namespace, settings: Settings) -> int:
    folder = args.rules or (DEFAULT_RULES if DEFAULT_RULES.is_dir() else None)
    rules = YaraRules(folder) if folder is not None else None
    stats, stop = CollectorStats(), stop_on_signals()
    watcher = FolderWatcher(args.watch, stats)
    identity = ",".join(sorted(str(p.resolve()) for p in args.watch))
    with collection(settings, args) as run, run.shipper("files", identity, stats) as ship:
        while not stop.is_set():
            events = [scan_file(p, rules, stats) for p in watcher.poll(settle=not args.once)]
            ship.put([e for e in events if e is not None])
            if args.once:
                break
            ship.tick()
            stop.wait(args.poll)
        ship.flush(timeout=run.options.drain_timeout)
        say(summary_line(identity, stats, ship.close()))
    return 0
