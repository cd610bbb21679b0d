"""Source → enrichment → sink, in batches, with counts of what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from citysoc.core.ecs import Event
from collectors.sinks import Sink
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

Enrich = Callable[[Event], Event]


@dataclass
class ShipReport:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0


def ship(
    events: Iterable[Event],
    *,
    enrich: Enrich,
    sink: Sink,
    stats: CollectorStats,
    batch_size: int = 2000,
) -> ShipReport:
    """Enrich every event and write it to the sink in batches."""
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
    log.debug(
        "shipped %d events (%d already stored, %d rejected) in %.2fs; errors: %s",
        report.stored, report.duplicates, report.rejected, report.seconds,
        dict(stats.errors) or "none",
    )  # fmt: skip
    return report
