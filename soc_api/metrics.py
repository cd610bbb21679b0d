"""Prometheus metrics of one app: requests, ingest, detections, alerts by status.

Each app has its own registry, so several apps (tests) never clash; alert counts are read
from the SOC state at scrape time.

With several API worker processes (``citysoc serve --workers N``) each process's counters
would be its own, and a scrape would read whichever worker answered it. So there every
process (workers and the supervisor, whose notification deliveries are counted too) writes
its values to files in one folder (prometheus_client's multiprocess mode:
:func:`share_between_processes`), and ``/metrics`` of any worker adds them all up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from soc_api.alerts.models import Alert

log = logging.getLogger(__name__)

_shared: Path | None = None  # the folder of every process's values, in multiprocess mode


def share_between_processes(folder: Path) -> None:
    """From now on, metrics made in this process keep their values in ``folder``, where any
    process sharing it reads every process's. Call before the app is built."""
    global _shared
    folder.mkdir(parents=True, exist_ok=True)
    # prometheus_client takes the folder from its own variable, read as each value is made
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _shared = folder


class StateCollector(Collector):
    """Alerts by agency and status, events stored, last detection run: read when scraped."""

    def __init__(self, state: Callable[[], tuple[sessionmaker[Session], int] | None]) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        current = self.state()
        if current is None:
            return
        sessions, events = current
        alerts = GaugeMetricFamily(
            "citysoc_alerts", "Alerts in the SOC state", labels=["agency", "status"]
        )
        with sessions() as session:
            rows = session.execute(
                select(Alert.agency, Alert.status, func.count()).group_by(
                    Alert.agency, Alert.status
                )
            ).all()
        for agency, status, count in rows:
            alerts.add_metric([agency, status], count)
        yield alerts
        yield GaugeMetricFamily("citysoc_events_stored", "Events in the event store", value=events)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared = _shared
        self._state: StateCollector | None = None
        self.requests = Counter(
            "citysoc_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citysoc_http_request_seconds",
            "Time to answer a request",
            ["route"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "citysoc_ingest_events",
            "Events received on /api/v1/ingest",
            ["outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "citysoc_rate_limited",
            "Requests refused by a rate limit",
            ["limit"],
            registry=self.registry,
        )

    def watch_state(self, state: Callable[[], tuple[sessionmaker[Session], int] | None]) -> None:
        self._state = StateCollector(state)
        self.registry.register(self._state)

    def exposition(self) -> bytes:
        """The text a scrape reads: this process's metrics, or every process's when shared."""
        if self.shared is None:
            return generate_latest(self.registry)
        every = CollectorRegistry()
        MultiProcessCollector(every, path=str(self.shared))  # type: ignore[no-untyped-call]
        if self._state is not None:
            every.register(self._state)
        return generate_latest(every)
