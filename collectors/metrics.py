"""Collector counters for Prometheus, read from the live stats when scraped.

Nothing is counted twice on the hot path: :class:`CollectorMetrics` holds references to each
source's :class:`CollectorStats`, :class:`ShipReport` and :class:`DiskBuffer` and turns them
into metric families at scrape time (``citysoc_collector_received_total{source=...}``, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.shipper import ShipReport
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

PREFIX = "citysoc_collector"


@dataclass(frozen=True)
class Watched:
    source: str
    stats: CollectorStats
    report: ShipReport | None
    buffer: DiskBuffer | None


class CollectorMetrics(Collector):
    """A Prometheus collector over the counters of one or more running sources."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._watched: dict[str, Watched] = {}
        self.registry.register(self)

    def watch(
        self,
        source: str,
        stats: CollectorStats,
        report: ShipReport | None = None,
        buffer: DiskBuffer | None = None,
    ) -> None:
        self._watched[source] = Watched(source, stats, report, buffer)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``host:port`` from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
        log.info("collector metrics on http://%s:%d/metrics", host, port)

    def collect(self) -> Iterator[Metric]:
        counters = {
            name: CounterMetricFamily(f"{PREFIX}_{name}", text, labels=["source"])
            for name, text in (
                ("received", "Records received (lines, messages, packets, files)"),
                ("parsed", "Records understood"),
                ("events", "ECS events made"),
                ("shipped", "Events the sink stored"),
                ("duplicates", "Events the sink already held"),
                ("rejected", "Events the sink refused"),
                ("sink_failures", "Failed sink writes (retried)"),
            )
        }
        errors = CounterMetricFamily(
            f"{PREFIX}_errors", "Bad records by reason", labels=["source", "reason"]
        )
        dropped = CounterMetricFamily(
            f"{PREFIX}_dropped", "Records or events dropped by reason", labels=["source", "reason"]
        )
        buffered = GaugeMetricFamily(
            f"{PREFIX}_buffered_bytes",
            "Bytes in the disk buffer not yet delivered",
            labels=["source"],
        )
        for w in list(self._watched.values()):
            values = {
                "received": w.stats.received,
                "parsed": w.stats.parsed,
                "events": w.stats.events,
            }
            if w.report is not None:
                values |= {
                    "shipped": w.report.stored,
                    "duplicates": w.report.duplicates,
                    "rejected": w.report.rejected,
                    "sink_failures": w.report.sink_failures,
                }
            for name, value in values.items():
                counters[name].add_metric([w.source], value)
            for reason, count in w.stats.errors.items():
                errors.add_metric([w.source, reason], count)
            for reason, count in (w.stats.dropped + w.stats.skipped).items():
                dropped.add_metric([w.source, reason], count)
            if w.buffer is not None:
                buffered.add_metric([w.source], w.buffer.pending_bytes)
        yield from counters.values()
        yield from (errors, dropped, buffered)
