"""Everything a running SOC API holds, built once from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.errors import RuleError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from collectors.enrich import Enricher
from detections.engine.catalog import load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.runner import DetectionRunner
from eventstore.sqlite import SqliteEventStore
from soc_api.db import init_state, make_engine
from soc_api.metrics import Metrics
from soc_api.ratelimit import TokenBucket
from soc_api.scheduler import DetectionScheduler

log = logging.getLogger(__name__)


@dataclass
class SocContext:
    settings: Settings
    topology: Topology
    store: SqliteEventStore
    sessions: sessionmaker[Session]
    rules: list[CompiledRule]
    rule_errors: list[RuleError]
    scheduler: DetectionScheduler
    enricher: Enricher
    login_limiter: TokenBucket
    ingest_limiter: TokenBucket
    metrics: Metrics = field(default_factory=Metrics)

    def close(self) -> None:
        self.scheduler.stop()
        self.store.close()


def build_context(settings: Settings) -> SocContext:
    topology = load_topology(settings.topology_path)
    store = SqliteEventStore(settings.event_store_path)
    sessions = init_state(make_engine(settings.resolved_state_url))
    catalog = load_catalog()
    compiled = compile_catalog(catalog)
    errors = catalog.errors + compiled.errors
    for error in errors:
        log.error("rule not loaded: %s", error)
    scheduler = DetectionScheduler(
        store=store,
        runner=DetectionRunner(store, compiled.rules),
        sessions=sessions,
        suppression=timedelta(seconds=settings.suppression_window_seconds),
        interval=settings.detection_interval_seconds,
    )
    log.info("SOC ready: %d rules, event store %s", len(compiled.rules), settings.event_store_path)
    per_minute = settings.login_attempts_per_minute
    return SocContext(
        settings,
        topology,
        store,
        sessions,
        compiled.rules,
        errors,
        scheduler,
        enricher=Enricher(topology, settings.default_agency),
        login_limiter=TokenBucket(rate=per_minute / 60, burst=per_minute),
        ingest_limiter=TokenBucket(
            rate=settings.ingest_rate_per_second, burst=settings.ingest_rate_per_second * 5
        ),
    )
