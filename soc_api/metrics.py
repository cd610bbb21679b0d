"""Prometheus metrics of one app: requests, ingest, detections, alerts by status.

Each app has its own registry, so several apps (tests) never clash; alert counts are read
from the SOC state at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from soc_api.alerts.models import Alert

log = logging.getLogger(__name__)


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
        self.registry.register(StateCollector(state))
