"""``citysoc collect <source>``: read a source into the event store.

Each source kind lives in its own module with ``add_parsers(subparsers)``; this module holds
what they share: the store, the enrichment, shipping and the closing summary.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from citysoc.cli.output import say
from citysoc.core.ecs import Event
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from collectors.enrich import Enricher
from collectors.pipeline import ShipReport, ship
from collectors.sinks import SqliteSink
from collectors.stats import CollectorStats
from eventstore.sqlite import SqliteEventStore

Reader = Callable[[Path, CollectorStats], Iterator[Event]]

SOURCES = (
    "citysoc.cli.collect_packets",
    "citysoc.cli.collect_logs",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("collect", help="read traffic or logs into the event store")
    kinds = parser.add_subparsers(dest="source", required=True)
    for name in SOURCES:
        importlib.import_module(name).add_parsers(kinds)


def collect_events(
    events: Iterator[Event],
    stats: CollectorStats,
    *,
    store: SqliteEventStore,
    topology: Topology,
    default_agency: str,
) -> ShipReport:
    """Enrich and store the events of one source."""
    return ship(
        events, enrich=Enricher(topology, default_agency), sink=SqliteSink(store), stats=stats
    )


def summary_line(path: Path | str, stats: CollectorStats, report: ShipReport) -> str:
    summary = {**stats.summary(), "stored": report.stored, "duplicates": report.duplicates}
    return f"{path}: {json.dumps(summary)}"


def collect_files(
    paths: list[Path],
    read: Reader,
    settings: Settings,
    agency: str | None,
) -> int:
    """Run ``read(path, stats)`` over every path into the store, one summary line each."""
    topology = load_topology(settings.topology_path)
    with SqliteEventStore(settings.event_store_path) as store:
        for path in paths:
            stats = CollectorStats()
            report = collect_events(
                read(path, stats),
                stats,
                store=store,
                topology=topology,
                default_agency=agency or settings.default_agency,
            )
            say(summary_line(path, stats, report))
    return 0
