"""``citysoc collect <source>``: read a source into the event store (or another sink).

Each source kind lives in its own module with ``add_parsers(subparsers)``; this module holds
what they share: the sink (``--sink store|api``: the event store that ``CITYSOC_EVENT_STORE``
names, or the SOC API), the disk buffer between source and sink (``var/buffer/<source>``),
enrichment, Prometheus counters (``--metrics-port``), stopping on SIGTERM and the closing summary.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from citysoc.cli.output import say
from citysoc.core.ecs import Event
from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from collectors.delivery.buffer import DiskBuffer, FullPolicy
from collectors.delivery.buffer_roles import AppendingBuffer
from collectors.delivery.process import ProcessShipper
from collectors.delivery.raw_lines import LineParser, RawLines
from collectors.delivery.shipper import BackgroundShipper, Shipper
from collectors.delivery.sinks import Sink, SinkSpec, open_sink, sink_for
from collectors.enrich import Enricher, enricher_for
from collectors.metrics import CollectorMetrics
from collectors.pipeline import ShipReport, ship
from collectors.stats import CollectorStats
from eventstore.base import EventStore
from eventstore.open import engine_spec

Reader = Callable[[Path, CollectorStats], Iterator[Event]]

SOURCES = (
    "citysoc.cli.collect_packets",
    "citysoc.cli.collect_logs",
)
SINKS = ("store", "api")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("collect", help="read traffic or logs into the event store")
    kinds = parser.add_subparsers(dest="source", required=True)
    for name in SOURCES:
        importlib.import_module(name).add_parsers(kinds)


def add_shipping_options(parser: argparse.ArgumentParser) -> None:
    """The options every log source shares: agency, sink, buffer and metrics."""
    parser.add_argument("--agency", help="agency of events outside the topology")
    parser.add_argument("--sink", choices=SINKS, help="where events go (CITYSOC_COLLECTOR_SINK)")
    parser.add_argument(
        "--buffer-policy",
        choices=[p.value for p in FullPolicy],
        help="when the disk buffer is full: wait for the sink, or drop the oldest events",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds to keep retrying the sink at the end; what is left stays buffered",
    )
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1")


@dataclass(frozen=True)
class ShipOptions:
    sink: str
    agency: str
    policy: FullPolicy
    max_bytes: int
    drain_timeout: float
    metrics_port: int | None

    @classmethod
    def of(cls, args: argparse.Namespace | None, settings: Settings) -> ShipOptions:
        def arg(name: str) -> object:
            return getattr(args, name, None) if args is not None else None

        return cls(
            sink=str(arg("sink") or settings.collector_sink),
            agency=str(arg("agency") or settings.default_agency),
            policy=FullPolicy(str(arg("buffer_policy") or settings.buffer_policy)),
            max_bytes=settings.buffer_max_bytes,
            drain_timeout=float(str(arg("drain_timeout") or 30.0)),
            metrics_port=int(str(arg("metrics_port"))) if arg("metrics_port") else None,
        )


def collect_events(
    events: Iterator[Event],
    stats: CollectorStats,
    *,
    store: EventStore,
    topology: Topology,
    default_agency: str,
    buffer: DiskBuffer | None = None,
) -> ShipReport:
    """Enrich and store the events of one source (through ``buffer`` if given)."""
    return ship(
        events,
        enrich=Enricher(topology, default_agency),
        sink=sink_for(store),
        stats=stats,
        buffer=buffer,
    )


def summary_line(path: Path | str, stats: CollectorStats, report: ShipReport) -> str:
    summary = {**stats.summary(), "stored": report.stored, "duplicates": report.duplicates}
    if report.sink_failures:
        summary["sink_failures"] = report.sink_failures
    return f"{path}: {json.dumps(summary)}"


def sink_spec(kind: str, settings: Settings) -> SinkSpec:
    """The sink named ``kind``, from settings; :class:`ConfigError` if they are incomplete."""
    if kind == "store":
        engine = engine_spec(settings)
        if engine is None:
            return SinkSpec("sqlite", store_path=settings.event_store_path)
        return SinkSpec("engine", engine=engine, dead_letters=settings.dead_letter_dir)
    if kind == "api":
        if not settings.ingest_url or settings.collector_token is None:
            raise ConfigError("--sink api needs CITYSOC_INGEST_URL and CITYSOC_COLLECTOR_TOKEN")
        token = settings.collector_token.get_secret_value()
        return SinkSpec("api", url=settings.ingest_url, secret=token)
    raise ConfigError(f"unknown sink {kind!r}; choose one of {', '.join(SINKS)}")


def open_buffer(
    settings: Settings,
    source: str,
    identity: str,
    options: ShipOptions,
    kind: type[DiskBuffer] = DiskBuffer,
) -> DiskBuffer:
    """The disk buffer of one source and input (``var/buffer/<source>-<sink>-<hash>``)."""
    digest = hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()
    folder = settings.data_dir / "buffer" / f"{source}-{options.sink}-{digest}"
    return kind(folder, max_bytes=options.max_bytes, policy=options.policy)


@dataclass
class Collection:
    """What a running collect command holds: options, topology, sink and metrics."""

    settings: Settings
    options: ShipOptions
    topology: Topology
    sink: Sink
    metrics: CollectorMetrics | None

    @contextmanager
    def shipper(
        self, source: str, identity: str, stats: CollectorStats, *, own_process: bool = False
    ) -> Iterator[Shipper]:
        """The source's shipper; ``own_process`` delivers from a second process (``block``
        policy only: under ``drop-oldest`` the appending side would have to acknowledge)."""
        own_process = own_process and self.options.policy is FullPolicy.BLOCK
        kind = AppendingBuffer if own_process else DiskBuffer
        with open_buffer(self.settings, source, identity, self.options, kind) as buffer:
            enrich = Enricher(self.topology, self.options.agency)
            shipper: Shipper
            if isinstance(buffer, AppendingBuffer):
                sink_factory = partial(open_sink, sink_spec(self.options.sink, self.settings))
                shipper = ProcessShipper(
                    make_enrich=partial(
                        enricher_for, self.settings.topology_path, self.options.agency
                    ),
                    sink=self.sink,
                    buffer=buffer,
                    stats=stats,
                    open_sink=sink_factory,
                )
            else:
                shipper = BackgroundShipper(
                    enrich=enrich, sink=self.sink, buffer=buffer, stats=stats
                )
            if self.metrics is not None:
                self.metrics.watch(f"{source}:{identity}", stats, shipper.report, buffer)
            shipper.tick()  # what an earlier run left behind goes first
            try:
                yield shipper
            finally:
                shipper.close()


@contextmanager
def collection(settings: Settings, args: argparse.Namespace | None) -> Iterator[Collection]:
    options = ShipOptions.of(args, settings)
    topology = load_topology(settings.topology_path)
    metrics = None
    if options.metrics_port is not None:
        metrics = CollectorMetrics()
        metrics.serve(options.metrics_port)
    with open_sink(sink_spec(options.sink, settings)) as sink:
        yield Collection(settings, options, topology, sink, metrics)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so long-running sources stop cleanly."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


@dataclass(frozen=True)
class LineSource:
    """A file source read in batches of lines that the delivery process may parse for us."""

    name: str
    read_lines: Callable[[Path, CollectorStats], Iterator[RawLines]]
    parse: LineParser


def collect_files(
    paths: list[Path],
    read: Reader | LineSource,
    settings: Settings,
    agency: str | None,
    args: argparse.Namespace | None = None,
) -> int:
    """Run ``read(path, stats)`` over every path through the buffer, one summary line each."""
    if isinstance(read, LineSource):
        source = read.name
    else:
        source = read.__name__.removeprefix("read_").removesuffix("_file")
    if args is None:
        args = argparse.Namespace(agency=agency)
    with collection(settings, args) as run:
        for path in paths:
            stats = CollectorStats()
            with run.shipper(source, str(path.resolve()), stats, own_process=True) as shipper:
                if isinstance(read, LineSource):
                    _ship_lines(read, path, stats, shipper)
                else:
                    _ship_events(read, path, stats, shipper)
                shipper.flush(timeout=run.options.drain_timeout)
                say(summary_line(path, stats, shipper.close()))
    return 0


def _ship_lines(source: LineSource, path: Path, stats: CollectorStats, shipper: Shipper) -> None:
    for lines in source.read_lines(path, stats):
        if shipper.wants_lines():
            shipper.put_lines(lines)  # the delivery process has time to parse them
        else:
            shipper.put(source.parse(lines, stats))


def _ship_events(read: Reader, path: Path, stats: CollectorStats, shipper: Shipper) -> None:
    batch: list[Event] = []
    for event in read(path, stats):
        batch.append(event)
        if len(batch) >= 2000:
            shipper.put(batch)
            batch = []
    shipper.put(batch)
