"""The event store: ECS events at rest, where detections run.

One interface (:class:`EventStore`, in ``base``), two adapters: the embedded SQLite file
(:class:`SqliteEventStore`, the default) and a search engine cluster (``engine/``:
OpenSearch or Elasticsearch). :func:`open_event_store` opens the one the settings name.
"""

from eventstore.base import Backoff, EventStore, Refusal, StoreHealth, WriteResult
from eventstore.open import open_event_store
from eventstore.sqlite import SqliteEventStore

__all__ = [
    "Backoff",
    "EventStore",
    "Refusal",
    "SqliteEventStore",
    "StoreHealth",
    "WriteResult",
    "open_event_store",
]
