"""Source → enrichment → sink, in batches, with counts of what happened.

With a :class:`DiskBuffer` the batches go through it (:class:`Shipper`): durable before
delivery, retried with backoff while the sink is down. Without one they are written
straight to the sink (the demo and tests, where the source can simply be read again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from citysoc.core.ecs import Event
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.shipper import Shipper, ShipReport
from collectors.delivery.sinks import Sink
from collectors.enrich import Enrich
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

__all__ = ["Enrich", "ShipReport", "ship"]


def ship(
    events: Iterable[Event],
    *,
    enrich: Enrich,
    sink: Sink,
    stats: CollectorStats,
    batch_size: int = 2000,
    buffer: DiskBuffer | None = None,
    drain_timeout: float | None = 30.0,
) -> ShipReport:
    """Enrich every event and write it to the sink in batches (through ``buffer`` if given).

    With a buffer, what an earlier run left in it is delivered too; what the sink still
    refuses after ``drain_timeout`` seconds stays buffered for the next run.
    """
    if buffer is not None:
        return _ship_buffered(events, enrich, sink, stats, batch_size, buffer, drain_timeout)
    report = ShipReport()
    started = time.perf_counter()
    batch: list[Event] = []

    def flush() -> None:
        result = sink.write(batch)
        report.stored += result.inserted
        report.duplicates += result.duplicates
        report.rejected += result.rejected
        batch.clear()

    for event in events:
        batch.append(enrich(event))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    report.seconds = time.perf_counter() - started
    _log_report(report, stats)
    return report


def _ship_buffered(
    events: Iterable[Event],
    enrich: Enrich,
    sink: Sink,
    stats: CollectorStats,
    batch_size: int,
    buffer: DiskBuffer,
    drain_timeout: float | None,
) -> ShipReport:
    shipper = Shipper(enrich=enrich, sink=sink, buffer=buffer, stats=stats)
    shipper.deliver()
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) >= batch_size:
            shipper.put(batch)
            batch = []
    shipper.put(batch)
    shipper.flush(timeout=drain_timeout)
    report = shipper.close()
    _log_report(report, stats)
    return report


def _log_report(report: ShipReport, stats: CollectorStats) -> None:
    log.debug(
        "shipped %d events (%d already stored, %d rejected) in %.2fs; errors: %s",
        report.stored, report.duplicates, report.rejected, report.seconds,
        dict(stats.errors) or "none",
    )  # fmt: skip
