"""Where collected events go: one interface, and how to open each implementation.

:class:`SinkSpec` says which sink with plain values, so a delivery process can open its own
(:func:`open_sink`): the event store (SQLite, or an engine through
:class:`~eventstore.engine.store.EngineEventStore`), or the SOC API. The engine and SOC API
clients are imported only when opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from collectors.delivery.buffer_codec import EventGroups
from eventstore.base import EventStore, WriteResult
from eventstore.engine.spec import EngineSpec
from eventstore.sqlite import SqliteEventStore


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


class StoreSink:
    """Writes into an event store on a search engine (which takes concurrent writers)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def write(self, events: Sequence[Event]) -> WriteResult:
        return self.store.write(events)


def sink_for(store: EventStore) -> Sink:
    """The sink that writes into ``store``."""
    if isinstance(store, SqliteEventStore):
        return SqliteSink(store)
    return StoreSink(store)


def takes_turns(sink: Sink) -> bool:
    """Whether processes sharing ``sink`` must write one at a time: an SQLite file has one
    writer, while Elasticsearch and the SOC API take concurrent bulk requests (and retry
    inside ``write``, which must not hold the other process up)."""
    return isinstance(sink, SqliteSink)


SinkKind = Literal["sqlite", "engine", "api"]


@dataclass(frozen=True)
class SinkSpec:
    """A sink as plain values: the store file, the engine, or the SOC API's URL and token."""

    kind: SinkKind
    store_path: Path | None = None
    busy_timeout: float = 2.0  # a locked store fails fast; the buffer holds events meanwhile
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    engine: EngineSpec | None = None
    dead_letters: Path | None = None


@contextmanager
def open_sink(spec: SinkSpec) -> Iterator[Sink]:
    """The sink ``spec`` names, closed afterwards."""
    if spec.kind == "sqlite" and spec.store_path is not None:
        with SqliteEventStore(spec.store_path, busy_timeout=spec.busy_timeout) as store:
            yield SqliteSink(store)
    elif spec.kind == "engine" and spec.engine is not None:
        from eventstore.engine.client import open_client  # heavy: only when used
        from eventstore.engine.deadletter import DeadLetters
        from eventstore.engine.store import EngineEventStore

        letters = DeadLetters(spec.dead_letters) if spec.dead_letters else None
        with EngineEventStore(open_client(spec.engine), dead_letters=letters) as store:
            yield StoreSink(store)
    elif spec.kind == "api" and spec.url and spec.secret:
        from collectors.delivery.http_sink import ApiSink

        sink = ApiSink(spec.url, spec.secret)
        try:
            yield sink
        finally:
            sink.close()
    else:
        raise StoreError(f"incomplete sink settings: {spec!r}")
