"""``citysoc collect``: read a source into the event store."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from citysoc.cli.output import say
from citysoc.core.ecs import Event
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from collectors.enrich import Enricher
from collectors.eve import read_eve
from collectors.pcap import read_pcap
from collectors.pipeline import ShipReport, ship
from collectors.sinks import SqliteSink
from collectors.stats import CollectorStats
from collectors.syslog import read_syslog_file
from eventstore.sqlite import SqliteEventStore

Reader = Callable[[Path, CollectorStats], Iterator[Event]]
READERS: dict[str, Reader] = {
    "pcap": lambda path, stats: read_pcap(path, stats),
    "eve": read_eve,
    "syslog": read_syslog_file,
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "collect", help="read pcap, Suricata EVE or syslog files into the store"
    )
    parser.add_argument("kind", choices=sorted(READERS))
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--agency", help="agency of events outside the topology")
    parser.set_defaults(func=run)


def collect_file(
    kind: str,
    path: Path,
    *,
    store: SqliteEventStore,
    topology: Topology,
    default_agency: str,
) -> tuple[CollectorStats, ShipReport]:
    stats = CollectorStats()
    report = ship(
        READERS[kind](path, stats),
        enrich=Enricher(topology, default_agency),
        sink=SqliteSink(store),
        stats=stats,
    )
    return stats, report


def run(args: argparse.Namespace, settings: Settings) -> int:
    topology = load_topology(settings.topology_path)
    with SqliteEventStore(settings.event_store_path) as store:
        for path in args.paths:
            stats, report = collect_file(
                args.kind,
                path,
                store=store,
                topology=topology,
                default_agency=args.agency or settings.default_agency,
            )
            summary = {**stats.summary(), "stored": report.stored, "duplicates": report.duplicates}
            say(f"{path}: {json.dumps(summary)}")
    return 0
