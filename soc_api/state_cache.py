"""Results computed once per state of the alerts, not on every request.

What is read from the alerts (incidents grouped from thousands of them, the queue's totals)
changes only when detections run or an analyst acts. Each request first reads the state's
fingerprint in one indexed query: the newest alert id, the newest alert change
(``updated_at``), the newest note and the database's clock, each from the end of an index.
What was computed for the same fingerprint and the same key (everything else the result
depends on) is reused; otherwise it is computed again.

A change is seen at once when it is made in this process: a committed session that wrote
alerts or notes (through its unit of work, an ORM or Core statement on their tables, or SQL
text naming them) moves a generation number that is part of the fingerprint. A change made by
another process, or on a bare connection, is seen by the fingerprint: a new alert or note by
its id, a changed alert by its ``updated_at`` (the database's clock, written on every update).
What the fingerprint cannot tell is bounded by time:

- ``updated_at`` has a one-second resolution on SQLite, so a state whose newest change is less
  than ``SETTLE`` old is computed again on every request and never kept;
- an alert deleted by another process (no path of the SOC deletes alerts), a write that
  commits more than ``SETTLE`` after it stamped ``updated_at``, and on PostgreSQL a row whose id
  or stamp is older than one already committed (concurrent transactions) change no
  fingerprint: an entry is used for at most its cache's ``max_age`` seconds.

What is kept is computed in a session of its own (``isolate``) when it holds ORM objects, so no
request's session ever holds (and changes) objects shared between requests; a session that has
changed alerts or notes and not yet committed computes its own answer, unshared.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Select, TextClause, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from soc_api.alerts.models import Alert
from soc_api.incidents.models import IncidentNote

SETTLE = timedelta(seconds=2)
MAX_AGE_SECONDS = 60.0
ENTRIES = 64
WATCHED = (Alert, IncidentNote)
WATCHED_TABLES = frozenset(str(model.__tablename__) for model in WATCHED)
_CHANGED = "citysoc.state.changed"
# SQL text that writes one of the watched tables (``UPDATE alerts``, ``DELETE FROM "alerts"``)
_WRITES = re.compile(
    r"\b(?:insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+[\"`]?("
    + "|".join(sorted(WATCHED_TABLES))
    + r")\b",
    re.IGNORECASE,
)

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


def _touches(session: Session) -> bool:
    touched = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(obj, WATCHED) for obj in touched)


def writes_watched(state: ORMExecuteState) -> bool:
    """Whether a statement run through a session writes alerts or notes: an ORM bulk
    statement, a Core statement on their tables, or SQL text naming them."""
    statement = state.statement
    if state.is_insert or state.is_update or state.is_delete:
        if any(mapper.class_ in WATCHED for mapper in state.all_mappers):
            return True
        return getattr(getattr(statement, "table", None), "name", None) in WATCHED_TABLES
    return isinstance(statement, TextClause) and _WRITES.search(statement.text) is not None


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    if _touches(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if writes_watched(state):
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


_FINGERPRINT = fingerprint_query()


def fingerprint(session: Session) -> tuple[Fingerprint, bool]:
    """The state's fingerprint, and whether it has settled (may be kept). Read on the
    session's connection as a Core statement: a third of the ORM's cost, and nothing of the
    session's own is flushed (see :meth:`StateCache.get`)."""
    generation = GENERATION.value
    row = session.connection().execute(_FINGERPRINT).one()
    newest_change, now = row[1], row[3]
    settled = newest_change is None or (now is not None and newest_change <= now - SETTLE)
    return Fingerprint(generation, row[0], newest_change, row[2]), settled


class StateCache:
    """Results per key and state of the alerts, at most ``entries`` of them, each used for at
    most ``max_age`` seconds.

    ``one_at_a_time``: computations of any key wait for each other, so that a burst of
    requests after a change runs one (heavy Python work: it bounds CPU and memory); otherwise
    a computation waits only for one of the same key whose result will be kept, and a state
    that has not settled is computed at once. ``isolate``: what is kept is computed in a
    session of its own (results holding ORM objects); otherwise in the request's session,
    the same transaction that read the fingerprint (plain values).
    """

    def __init__(
        self,
        entries: int = ENTRIES,
        max_age: float = MAX_AGE_SECONDS,
        *,
        one_at_a_time: bool = True,
        isolate: bool = True,
    ) -> None:
        self.entries = entries
        self.max_age = max_age
        self.one_at_a_time = one_at_a_time
        self.isolate = isolate
        self._lock = threading.Lock()
        self._computing = threading.RLock()  # one computation at a time (they nest)
        self._flights: dict[Hashable, tuple[threading.Lock, list[int]]] = {}
        self._kept: OrderedDict[Hashable, tuple[Fingerprint, float, Any]] = OrderedDict()

    def _lookup(self, key: Hashable, state: Fingerprint) -> tuple[bool, Any]:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != state or time.monotonic() - kept[1] > self.max_age:
                return False, None
            self._kept.move_to_end(key)
            return True, kept[2]

    def _keep(self, key: Hashable, state: Fingerprint, value: Any) -> None:
        with self._lock:
            self._kept[key] = (state, time.monotonic(), value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.entries:
                self._kept.popitem(last=False)

    @contextmanager
    def _turn(self, key: Hashable) -> Iterator[None]:
        """Wait for the computations this one must follow (see the class)."""
        if self.one_at_a_time:
            with self._computing:
                yield
            return
        with self._lock:
            lock, users = self._flights.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                users[0] -= 1
                if not users[0]:
                    del self._flights[key]

    def get(self, session: Session, key: Hashable, compute: Callable[[Session], T]) -> T:
        """What ``compute`` gives for the database's current state, computed at most once
        per state (``key`` names everything else the result depends on)."""
        if session.info.get(_CHANGED) or _touches(session):
            return compute(session)  # this session's own changes, not yet committed
        state, settled = fingerprint(session)
        key = (session.get_bind().engine.url.render_as_string(), key)
        found, value = self._lookup(key, state)
        if found:
            return cast(T, value)
        if not settled and not self.one_at_a_time:
            return compute(session)  # not kept: nothing to wait for
        with self._turn(key):
            found, value = self._lookup(key, state)  # computed while this request waited
            if found:
                return cast(T, value)
            if self.isolate:
                with Session(bind=session.get_bind(), expire_on_commit=False) as reader:
                    computed = compute(reader)
            else:
                computed = compute(session)
            if settled:
                self._keep(key, state, computed)
            return computed

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
