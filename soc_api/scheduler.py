"""The detection schedule: run every compiled rule and the IOC sweep over new events.

One background thread wakes every ``interval`` seconds (or at once when :meth:`trigger` is
called, e.g. after an ingest), evaluates the rules on events stored since the checkpoint, and
records the alerts and the new checkpoint in one transaction: a crash re-runs the same slice,
and deduplication makes that harmless.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session, sessionmaker

from detections.engine.runner import RunReport
from eventstore.base import EventStore
from eventstore.sqlite import SqliteEventStore
from soc_api import checkpoints
from soc_api.alerts.service import record_hits
from soc_api.allocator import release_free_memory
from soc_api.db import transaction
from soc_api.incidents.warning import warn_and_hunt
from soc_api.iocs.sweep import sweep

if TYPE_CHECKING:
    from soc_api.schedule_link import ScheduleLink

log = logging.getLogger(__name__)

CHECKPOINT = "detections"
ADDRESS_INDEX_SECONDS = 0.5
"""After a run with new events, the embedded store's address index is caught up for at most
this long (the store is locked meanwhile), so searches by address find it nearly current."""
MAX_EVENTS_PER_RUN = 50_000
"""A run reads at most this many new events of the embedded store (two intervals at 5,000 a
second); a backlog is read in runs of this size, one after another, so that what a run holds
in memory (rows, hits, evidence, alerts) is bounded, however far the schedule has fallen
behind."""


class Runner(Protocol):
    """Evaluates every rule on the store's positions ``after < p <= upto``."""

    def run(self, after: int, upto: int) -> RunReport: ...


def checkpoint_name(store: EventStore) -> str:
    """Each kind of store keeps its own position (SQLite rows, engine seconds)."""
    return CHECKPOINT if store.kind == "sqlite" else f"{CHECKPOINT}-{store.kind}"


@dataclass(frozen=True)
class SchedulerRun:
    events: int
    hits: int
    created: int
    updated: int
    seconds: float
    rule_errors: int
    at: datetime  # when the run finished


class DetectionScheduler:
    def __init__(
        self,
        *,
        store: EventStore,
        runner: Runner,
        sessions: sessionmaker[Session],
        suppression: timedelta,
        interval: float,
        agencies: Sequence[str] = (),
        max_events: int = MAX_EVENTS_PER_RUN,
    ) -> None:
        self.store = store
        self.max_events = max_events
        self.agencies = tuple(agencies)  # early warnings go to these (the topology's agencies)
        self.runner = runner
        self.sessions = sessions
        self.suppression = suppression
        self.interval = interval
        self._last_run: SchedulerRun | None = None
        self._last_busy_run: SchedulerRun | None = None  # the last run that had new events
        self._link: ScheduleLink | None = None
        self._elsewhere = False  # True in an API worker: the schedule runs in another process
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self._held = threading.Event()

    def run_once(self) -> SchedulerRun:
        with self._run_lock:
            started = time.perf_counter()
            upto = self.store.head()
            name = checkpoint_name(self.store)
            with transaction(self.sessions) as session:
                after = checkpoints.read(session, name)
                if after > upto and self.store.kind == "sqlite":
                    log.warning(
                        "checkpoint %d is past the event store (%d): starting over", after, upto
                    )
                    after = 0
                if self.store.kind == "sqlite" and upto - after > self.max_events:
                    upto = after + self.max_events  # the rest in the next run, at once
                    self._wake.set()
                report = self.runner.run(after, upto)
                ids = [i for hit in report.hits for i in hit.event_ids]
                evidence = {str(e["event.id"]): e for e in self.store.get(ids)}
                created, updated = record_hits(
                    session,
                    report.hits,
                    evidence=evidence,
                    suppression=self.suppression,
                    store=self.store,
                )
                created += sweep(
                    session, self.store, after=after, upto=upto, suppression=self.suppression
                )
                if created:
                    warned = warn_and_hunt(
                        session, self.store, agencies=self.agencies, suppression=self.suppression
                    )
                    created += warned.hunted
                checkpoints.write(session, name, max(after, upto))
            run = SchedulerRun(
                events=report.events_scanned,
                hits=len(report.hits),
                created=created,
                updated=updated,
                seconds=time.perf_counter() - started,
                rule_errors=len(report.rule_errors),
                at=datetime.now(UTC),
            )
            self._last_run = run
            if run.events:
                self._last_busy_run = run
            if self._link is not None and not self._elsewhere:
                self._publish()
            if run.events:
                log.info(
                    "detections: %d new events, %d hits, %d alerts created, %d updated (%.3fs)",
                    run.events, run.hits, run.created, run.updated, run.seconds,
                )  # fmt: skip
            return run

    @property
    def last_run(self) -> SchedulerRun | None:
        if self._elsewhere and self._link is not None:
            return self._link.last_runs()[0]
        return self._last_run

    @property
    def last_busy_run(self) -> SchedulerRun | None:
        if self._elsewhere and self._link is not None:
            return self._link.last_runs()[1]
        return self._last_busy_run

    def publish_to(self, link: ScheduleLink) -> None:
        """In the scheduling process: tell the API workers of each run through ``link``."""
        self._link, self._elsewhere = link, False
        link.forget()

    def run_elsewhere(self, link: ScheduleLink) -> None:
        """In an API worker: the schedule runs in another process, reached through ``link``:
        :meth:`trigger` wakes it there and the last runs are read from it."""
        self._link, self._elsewhere = link, True

    def _publish(self) -> None:
        assert self._link is not None
        try:
            self._link.publish(self._last_run, self._last_busy_run)
        except OSError as exc:  # the workers show older runs; the schedule goes on
            log.warning("cannot publish the detection run to the API workers: %s", exc)

    def hold(self) -> None:
        """Skip scheduled runs (e.g. while a batch of inputs is loaded) until :meth:`resume`."""
        self._held.set()

    def resume(self) -> None:
        self._held.clear()
        self.trigger()

    def trigger(self) -> None:
        if self._elsewhere and self._link is not None:
            self._link.wake()
        else:
            self._wake.set()

    def start(self) -> None:
        if self._elsewhere:
            raise RuntimeError("the detection schedule of an API worker runs in another process")
        self._thread = threading.Thread(target=self._loop, name="detection-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def index_addresses(self) -> None:
        """Catch the embedded store's address index up, within a budget; a failure only
        leaves more for the next search to read event by event (:mod:`eventstore.addresses`)."""
        if not isinstance(self.store, SqliteEventStore):
            return  # the engine indexes every field itself
        try:
            self.store.index_addresses(budget=ADDRESS_INDEX_SECONDS)
        except sqlite3.Error as exc:
            log.warning("address index not caught up after a detection run: %s", exc)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._held.is_set() and self.run_once().events:
                    self.index_addresses()
                    release_free_memory()  # what the run freed, back to the system
            except Exception:  # the schedule must survive a bad run; the error is logged
                log.exception("detection run failed")
            self._wake.wait(self.interval)
            self._wake.clear()
