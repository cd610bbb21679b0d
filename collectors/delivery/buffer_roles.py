"""The two sides of a disk buffer shared by two processes: one appends, one delivers.

The protocol, with the buffer directory as the durable boundary:

* the **appending** side (:class:`AppendingBuffer`, the reading process) holds the buffer's
  ``lock``, cuts off a half-written record at start-up, appends records and fsyncs them, and
  only then announces how far the buffer is committed (:meth:`AppendingBuffer.committed`).
  It never writes ``ack.json`` nor deletes a segment; it reads ``ack.json`` to bound its size;
* the **delivering** side (:class:`DeliveringBuffer`, the delivery process) holds
  ``deliver.lock``, reads records from the acknowledged position up to the announced end and
  never past it (so never a record being written), owns ``ack.json`` and deletes the segments
  it has delivered once the appending side has moved on to a newer one.

Whoever delivers holds ``deliver.lock``: the delivery process, or the reading process itself
once that process is gone (it then reloads the acknowledged position first).

Both processes may write to the sink: the delivery process what it delivers, the reading
process the batches it has parsed itself while the sink takes them. At an SQLite store,
which has one writer at a time, they take turns (:class:`SinkTurns`, an ``flock`` on
``sink.lock``), so neither polls a store the other has locked.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from citysoc.core.ecs import Event
from collectors.delivery.buffer import AckPosition, Batch, DiskBuffer
from collectors.delivery.sinks import Sink
from eventstore.base import WriteResult

DELIVER_LOCK = "deliver.lock"
SINK_LOCK = "sink.lock"
Position = tuple[int, int]  # (segment, offset): everything before it is committed


def take_deliver_lock(directory: Path, *, wait: bool = True) -> IO[str]:
    """Wait for, then hold, the right to deliver from ``directory`` (released on close/exit);
    ``wait=False`` raises :class:`BlockingIOError` instead of waiting."""
    lock = (directory / DELIVER_LOCK).open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise
    return lock


class SinkTurns:
    """The processes sharing a buffer directory write to their sink one at a time, if it
    ``needs`` it (a sink that takes concurrent writes is not waited for)."""

    def __init__(self, directory: Path, *, needed: bool = True) -> None:
        self._lock = (directory / SINK_LOCK).open("a") if needed else None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the sink to be free, and hold it (released on exit, or if we die)."""
        if self._lock is None:
            yield
            return
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def writing(self, sink: Sink) -> Sink:
        """``sink``, writing only in this process's turn."""
        return _TurnTaking(sink, self)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()


class _TurnTaking:
    def __init__(self, sink: Sink, turns: SinkTurns) -> None:
        self.sink = sink
        self.turns = turns

    def write(self, events: Sequence[Event]) -> WriteResult:
        with self.turns.turn():
            return self.sink.write(events)


class AppendingBuffer(DiskBuffer):
    """The reading process's side: appends, and reads the deliverer's acknowledged position."""

    def committed(self) -> Position:
        """Segment and size up to which every record is whole and fsynced."""
        with self._mutex:
            return self._write_segment, self._size(self._write_segment)

    def take_over(self) -> IO[str]:
        """Become the deliverer (the delivery process is gone): its position, then its lock."""
        lock = take_deliver_lock(self.directory)
        with self._mutex:
            self._ack = self._load_ack()
        return lock

    def forget_delivered(self) -> None:
        """Once no process delivers any more: delete the segments delivered in full (the
        delivery process keeps the last one, which this side might still append to)."""
        try:
            lock = take_deliver_lock(self.directory, wait=False)
        except BlockingIOError:
            return  # someone still delivers: it cleans up as it goes
        with lock, self._mutex:
            self._ack = self._load_ack()
            if (self._ack.segment, self._ack.offset) >= self.committed():
                self._write_segment += 1
                self._advance(AckPosition(segment=self._write_segment, offset=0))

    def _pending_bytes(self) -> int:
        self._ack = self._load_ack()  # another process moves it
        return super()._pending_bytes()


class DeliveringBuffer(DiskBuffer):
    """The delivery process's side: reads announced records, acknowledges, cleans up."""

    def __init__(self, directory: Path, *, start: Position) -> None:
        self._end = start[1]
        super().__init__(directory)
        self.announce(start)

    @property
    def end(self) -> Position:
        return self._write_segment, self._end

    def announce(self, end: Position) -> None:
        """The appending side has committed everything before ``end``."""
        with self._mutex:
            self._write_segment, self._end = end

    def caught_up(self) -> bool:
        """Whether everything announced is acknowledged (cheap: no record is read)."""
        ack = self._ack
        return (ack.segment, ack.offset) >= (self._write_segment, self._end)

    def _take_lock(self) -> IO[str]:
        return take_deliver_lock(self.directory)

    def _recover(self, segment: int) -> None:
        """Never cut anything: the appending side owns the end of the buffer."""

    def _size(self, number: int) -> int:
        size = super()._size(number)
        return min(size, self._end) if number == self._write_segment else size

    def _ack_batch(self, batch: Batch) -> None:
        self._cache.pop((batch.segment, batch.offset), None)
        self._advance(AckPosition(segment=batch.segment, offset=batch.end))
