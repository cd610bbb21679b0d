"""Everything a running SOC API holds, built once from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.errors import ConfigError, RuleError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from collectors.enrich import Enricher
from detections.engine.catalog import load_catalog
from detections.engine.catalog_cache import compiled_catalog
from detections.engine.compiler import CompiledRule
from detections.engine.engine_queries import compile_engine_queries
from detections.engine.engine_runner import EngineDetectionRunner
from detections.engine.runner import DetectionRunner
from eventstore.base import EventStore
from eventstore.engine.indices import missing
from eventstore.engine.store import EngineEventStore
from eventstore.open import describe, open_event_store
from eventstore.sqlite import SqliteEventStore
from soc_api.db import init_state, make_engine
from soc_api.metrics import Metrics
from soc_api.ratelimit import TokenBucket
from soc_api.scheduler import DetectionScheduler, Runner
from soc_api.shared_ratelimit import SharedTokenBucket

log = logging.getLogger(__name__)


@dataclass
class SocContext:
    settings: Settings
    topology: Topology
    store: EventStore
    sessions: sessionmaker[Session]
    rules: list[CompiledRule]
    rule_errors: list[RuleError]
    scheduler: DetectionScheduler
    enricher: Enricher
    login_limiter: TokenBucket | SharedTokenBucket  # shared by every process when several
    ingest_limiter: TokenBucket
    metrics: Metrics = field(default_factory=Metrics)

    def close(self) -> None:
        self.scheduler.stop()
        self.store.close()


def build_context(settings: Settings) -> SocContext:
    topology = load_topology(settings.topology_path)
    store = open_event_store(settings)
    sessions = init_state(make_engine(settings.resolved_state_url))
    compiled = compiled_catalog()  # loaded and compiled once per process for the same files
    errors = compiled.errors  # of loading and of compiling
    runner: Runner
    if isinstance(store, SqliteEventStore):
        runner = DetectionRunner(store, compiled.rules)
    elif isinstance(store, EngineEventStore):
        lacking = missing(store.client)
        if lacking:
            store.close()
            raise ConfigError(
                f"the event store {describe(settings)} lacks {', '.join(lacking)}: "
                "run `citysoc store init` with the same CITYSOC_EVENT_STORE"
            )
        engine = compile_engine_queries(load_catalog(), {r.rule_id for r in compiled.rules})
        errors += engine.errors
        runner = EngineDetectionRunner(store, compiled.rules, engine.queries)
    else:  # pragma: no cover - open_event_store returns one of the two
        raise TypeError(f"no detection runner for {store!r}")
    for error in errors:
        log.error("rule not loaded: %s", error)
    scheduler = DetectionScheduler(
        store=store,
        runner=runner,
        sessions=sessions,
        suppression=timedelta(seconds=settings.suppression_window_seconds),
        interval=settings.detection_interval_seconds,
        agencies=tuple(topology.agencies),
    )
    log.info("SOC ready: %d rules, event store %s", len(compiled.rules), describe(settings))
    per_minute = settings.login_attempts_per_minute
    login_limiter: TokenBucket | SharedTokenBucket = TokenBucket(
        rate=per_minute / 60, burst=per_minute
    )
    if settings.api_workers > 1:  # one budget for every worker process, kept in the state
        login_limiter = SharedTokenBucket(sessions, rate=per_minute / 60, burst=per_minute)
    return SocContext(
        settings,
        topology,
        store,
        sessions,
        compiled.rules,
        errors,
        scheduler,
        enricher=Enricher(topology, settings.default_agency),
        login_limiter=login_limiter,
        ingest_limiter=TokenBucket(
            rate=settings.ingest_rate_per_second, burst=settings.ingest_rate_per_second * 5
        ),
    )
