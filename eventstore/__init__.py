"""The event store: ECS events at rest, where detections run.

The embedded default is one SQLite file (:class:`SqliteEventStore`).
"""

from eventstore.sqlite import SqliteEventStore, WriteResult

__all__ = ["SqliteEventStore", "WriteResult"]
