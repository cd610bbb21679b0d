"""Prometheus counters read from the live collector stats."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from citysoc.core.errors import Location
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.shipper import ShipReport
from collectors.metrics import CollectorMetrics
from collectors.stats import CollectorStats


def test_counters_per_source_with_reasons(tmp_path: Path) -> None:
    stats, report = CollectorStats(received=10, parsed=8, events=8), ShipReport(stored=7)
    stats.error("eve-not-json", Location("x"), "bad")
    stats.drop("buffer-full", 2, "test")
    metrics = CollectorMetrics()
    with DiskBuffer(tmp_path / "b") as buffer:
        buffer.append([{"event.id": "a"}])
        metrics.watch("eve", stats, report, buffer)
        text = generate_latest(metrics.registry).decode()
    assert 'citysoc_collector_received_total{source="eve"} 10.0' in text
    assert 'citysoc_collector_shipped_total{source="eve"} 7.0' in text
    assert 'citysoc_collector_errors_total{reason="eve-not-json",source="eve"} 1.0' in text
    assert 'citysoc_collector_dropped_total{reason="buffer-full",source="eve"} 2.0' in text
    assert 'citysoc_collector_buffered_bytes{source="eve"}' in text
    assert 'citysoc_collector_buffered_bytes{source="eve"} 0.0' not in text
