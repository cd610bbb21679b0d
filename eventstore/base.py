"""What every event store is: the interface the collectors, the detections and the SOC API
depend on, and the small types that cross it.

Two adapters implement :class:`EventStore`: the embedded SQLite file
(:class:`eventstore.sqlite.SqliteEventStore`) and a search engine cluster, OpenSearch or
Elasticsearch (:class:`eventstore.engine.store.EngineEventStore`). A **position** is an
integer that only grows: SQLite's row sequence, or the engine's ingest clock in whole
seconds. :meth:`EventStore.head` says up to where events may be read now; detections read
``after < position <= head`` and keep ``head`` as their checkpoint, so an event stored late,
with an old ``@timestamp``, still lands in a later slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from citysoc.core.ecs import Event
from citysoc.core.query.tree import Condition

MAX_OFFSET = 10_000
"""How deep a search may page (the engines' default result window)."""


@dataclass(frozen=True)
class Refusal:
    """An event the store refused, and why (kept in a dead-letter file by the engine)."""

    event_id: str
    reason: str


@dataclass(frozen=True)
class WriteResult:
    """What a write did with each event: stored, already there, or refused."""

    inserted: int
    duplicates: int
    rejected: int
    refusals: tuple[Refusal, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between attempts after a store or sink failed."""

    initial: float = 0.2
    maximum: float = 10.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * self.factor ** max(0, failures - 1)))


@dataclass(frozen=True)
class StoreHealth:
    """Whether the store answers, and what it says of itself."""

    ok: bool
    kind: str
    detail: str
    events: int | None = None


@dataclass(frozen=True)
class EventPage:
    """One page of a search: the matching events in order, and how many match in all."""

    total: int
    events: list[Event]


@dataclass(frozen=True)
class AgencySeen:
    """How many events of one agency a search matches, and the first and last of them."""

    agency: str
    events: int
    first_seen: str | None
    last_seen: str | None


@runtime_checkable
class EventStore(Protocol):
    """Events at rest. Writing an event twice stores it once (``event.id`` is the key)."""

    kind: str
    """``sqlite``, ``opensearch`` or ``elasticsearch``."""

    def write(self, events: Iterable[Event]) -> WriteResult: ...

    def head(self) -> int:
        """The position up to which events may be read now."""
        ...

    def settle(self) -> None:
        """Wait until everything written so far is within :meth:`head` (a demo's or a
        test's bulk load, before detections run)."""
        ...

    def count(self) -> int: ...

    def get(
        self, event_ids: Sequence[str], *, agencies: Sequence[str] | None = None
    ) -> list[Event]:
        """Events by id, oldest first; only the given agencies' when ``agencies`` is set."""
        ...

    def recent(self, *, limit: int = 100, agency: str | None = None) -> list[Event]: ...

    def matching(
        self,
        field_name: str,
        values: Sequence[str],
        *,
        after: int,
        upto: int,
        fields: Sequence[str] | None = None,
    ) -> list[Event]:
        """Events in the slice whose field holds one of ``values`` (IOC sweeps); with
        ``fields``, each event with only those of its fields (and ``event.id``), which keeps a
        sweep over a busy slice from holding every matching event whole."""
        ...

    def find(
        self,
        condition: Condition | None,
        *,
        agencies: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> EventPage:
        """Events meeting a query's condition (``None``: all), newest first (``@timestamp``,
        then store order), and the total; only the given agencies' when ``agencies`` is set.
        ``offset`` stops at :data:`MAX_OFFSET`."""
        ...

    def seen_by(self, condition: Condition | None) -> list[AgencySeen]:
        """Per agency, how many events meet the condition and when the first and last were.
        Across every agency: the caller decides what of it to show."""
        ...

    def health(self) -> StoreHealth: ...

    def close(self) -> None: ...
