"""Where collected events go: one interface, and how to open each implementation.

:class:`SinkSpec` says which sink with plain values, so a delivery process can open its own
(:func:`open_sink`); the Elasticsearch and SOC API sinks are imported only when opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
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


def takes_turns(sink: Sink) -> bool:
    """Whether processes sharing ``sink`` must write one at a time: an SQLite file has one
    writer, while Elasticsearch and the SOC API take concurrent bulk requests (and retry
    inside ``write``, which must not hold the other process up)."""
    return isinstance(sink, SqliteSink)


SinkKind = Literal["sqlite", "elasticsearch", "api"]


@dataclass(frozen=True)
class SinkSpec:
    """A sink as plain values: the store file, or a URL and its API key or collector token."""

    kind: SinkKind
    store_path: Path | None = None
    busy_timeout: float = 2.0  # a locked store fails fast; the buffer holds events meanwhile
    url: str | None = None
    secret: str | None = field(default=None, repr=False)


@contextmanager
def open_sink(spec: SinkSpec) -> Iterator[Sink]:
    """The sink ``spec`` names, closed afterwards."""
    if spec.kind == "sqlite" and spec.store_path is not None:
        with SqliteEventStore(spec.store_path, busy_timeout=spec.busy_timeout) as store:
            yield SqliteSink(store)
    elif spec.kind == "elasticsearch" and spec.url:
        from collectors.elastic import ElasticSink, open_elastic  # heavy: only when used

        with open_elastic(spec.url, api_key=spec.secret) as client:
            yield ElasticSink(client)
    elif spec.kind == "api" and spec.url and spec.secret:
        from collectors.http_sink import ApiSink

        sink = ApiSink(spec.url, spec.secret)
        try:
            yield sink
        finally:
            sink.close()
    else:
        raise StoreError(f"incomplete sink settings: {spec!r}")
