"""Incidents computed once per state of the alerts, not on every request.

Grouping the newest alerts into incidents and cutting them to a caller's agencies is Python
work over thousands of alerts (about a second for 5,000), while the alerts change only when
detections run or an analyst acts. Each request first reads the state's fingerprint in one
indexed query: the newest alert id, the newest alert change (``updated_at``), the newest note
and the database's clock. What was computed for the same fingerprint (and the same window,
agencies and names) is reused; otherwise it is computed again, one computation at a time, so
that a burst of requests after a change waits for one computation instead of running many.

A change is seen at once when it is made in this process (a committed session that touched
alerts or notes moves a generation number), and by its fingerprint when another process made
it. ``updated_at`` has a one-second resolution on SQLite, so a state whose newest change is
less than ``SETTLE`` old is computed again on every request until it has settled; and an
entry is used for at most ``MAX_AGE_SECONDS`` (an alert deleted by another process changes no
fingerprint).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Select, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from soc_api.alerts.models import Alert
from soc_api.incidents.models import IncidentNote

SETTLE = timedelta(seconds=2)
MAX_AGE_SECONDS = 60.0
ENTRIES = 64
WATCHED = (Alert, IncidentNote)
_CHANGED = "citysoc.incidents.changed"

T = TypeVar("T")


@dataclass(frozen=True)
class Fingerprint:
    generation: int
    newest_alert: int | None
    newest_change: datetime | None
    newest_note: int | None


class _Generation:
    """Moves on with every committed change this process makes to alerts or notes."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def advance(self) -> None:
        with self.lock:
            self.value += 1


GENERATION = _Generation()


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WATCHED) for obj in touched):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and any(mapper.class_ in WATCHED for mapper in state.all_mappers):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        GENERATION.advance()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def fingerprint_query() -> Select[Any]:
    """Newest alert, newest alert change, newest note, the database's clock: each maximum in
    a query of its own, which both databases answer from the end of an index."""
    return select(
        select(func.max(Alert.id)).scalar_subquery(),
        select(func.max(Alert.updated_at)).scalar_subquery(),
        select(func.max(IncidentNote.id)).scalar_subquery(),
        func.now(),
    )


def fingerprint(session: Session) -> tuple[Fingerprint, bool]:
    """The state's fingerprint, and whether it has settled (may be kept)."""
    generation = GENERATION.value
    row = session.execute(fingerprint_query()).one()
    newest_change, now = row[1], row[3]
    settled = newest_change is None or (now is not None and newest_change <= now - SETTLE)
    return Fingerprint(generation, row[0], newest_change, row[2]), settled


class IncidentCache:
    def __init__(self, entries: int = ENTRIES, max_age: float = MAX_AGE_SECONDS) -> None:
        self.entries = entries
        self.max_age = max_age
        self._lock = threading.Lock()
        self._computing = threading.RLock()  # one computation at a time (they nest)
        self._kept: OrderedDict[Hashable, tuple[Fingerprint, float, Any]] = OrderedDict()

    def _lookup(self, key: Hashable, state: Fingerprint) -> tuple[bool, Any]:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != state or time.monotonic() - kept[1] > self.max_age:
                return False, None
            self._kept.move_to_end(key)
            return True, kept[2]

    def get(self, session: Session, key: Hashable, compute: Callable[[Session], T]) -> T:
        """What ``compute`` gives for the database's current state, computed at most once
        per state (``key`` names everything else the result depends on).

        What is kept is computed in a session of its own, so no request's session ever holds
        (and changes) the objects shared between requests; a session that has changed alerts
        or notes and not yet committed computes its own answer, unshared.
        """
        state, settled = fingerprint(session)  # flushes the session's own changes first
        mine = (*session.new, *session.dirty, *session.deleted)
        if session.info.get(_CHANGED) or any(isinstance(obj, WATCHED) for obj in mine):
            return compute(session)
        key = (session.get_bind().engine.url.render_as_string(), key)
        found, value = self._lookup(key, state)
        if found:
            return cast(T, value)
        with self._computing:
            found, value = self._lookup(key, state)  # computed while this request waited
            if found:
                return cast(T, value)
            with Session(bind=session.get_bind(), expire_on_commit=False) as reader:
                computed = compute(reader)
            if settled:
                with self._lock:
                    self._kept[key] = (state, time.monotonic(), computed)
                    self._kept.move_to_end(key)
                    while len(self._kept) > self.entries:
                        self._kept.popitem(last=False)
            return computed

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


INCIDENTS = IncidentCache()
