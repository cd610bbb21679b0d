"""Events of an endless source (a live capture) in batches that end on time.

A batch ends ``seconds`` after its first event or at ``max_events``, whichever comes first,
even when the source then goes quiet: a reader thread pulls the source into a bounded
queue, so waiting for the next packet never holds back the events already made. (A quiet
camera segment otherwise kept the end of an RTSP session unstored until other traffic came.)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import cast

from citysoc.core.ecs import Event

_END = object()


class TimedBatches:
    """Iterate :meth:`batch` until :attr:`ended`; the source's own error is raised there."""

    def __init__(self, events: Iterator[Event], *, max_events: int, seconds: float) -> None:
        self.max_events = max_events
        self.seconds = seconds
        self.ended = False
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_events * 2)
        self._error: BaseException | None = None
        self._reader = threading.Thread(
            target=self._read, args=(events,), name="timed-batches", daemon=True
        )
        self._reader.start()

    def _read(self, events: Iterator[Event]) -> None:
        try:
            for event in events:
                self._queue.put(event)
        except BaseException as exc:  # handed over to the consumer, raised in its thread
            self._error = exc
        finally:
            self._queue.put(_END)

    def batch(self) -> Iterator[Event]:
        """The next batch: waits as long as it takes for its first event, then at most
        ``seconds`` for the rest. Empty only when the source has ended."""
        if self.ended:
            return
        item = self._queue.get()
        deadline = time.monotonic() + self.seconds
        count = 0
        while item is not _END:
            yield cast(Event, item)
            count += 1
            remaining = deadline - time.monotonic()
            if count >= self.max_events or remaining <= 0:
                return
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
        self.ended = True
        self._reader.join()
        if self._error is not None:
            raise self._error
