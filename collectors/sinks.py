"""Where collected events go. One interface; the embedded store is the first implementation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from citysoc.core.ecs import Event
from collectors.buffer_codec import EventGroups
from eventstore.sqlite import SqliteEventStore, WriteResult


class Sink(Protocol):
    """Stores a batch of events; writing an event twice must store it once."""

    def write(self, events: Sequence[Event]) -> WriteResult: ...


class SqliteSink:
    """Writes straight into the embedded SQLite event store."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store

    def write(self, events: Sequence[Event]) -> WriteResult:
        if isinstance(events, EventGroups):  # from the disk buffer: rows as they are stored
            return self.store.write_groups(events.groups)
        return self.store.write(events)
