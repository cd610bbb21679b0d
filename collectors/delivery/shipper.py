"""Source → enrichment → disk buffer → sink, with retries and backpressure.

:meth:`Shipper.put` enriches a batch and makes it durable in the :class:`DiskBuffer`
before it returns, so a source may then commit its own position (a file offset). Delivery
to the sink follows at once when the sink is healthy; after a failure it waits for an
exponential backoff. When the buffer is full under the ``block`` policy, ``put`` keeps
trying to deliver (the source waits); under ``drop-oldest`` the buffer makes room.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from collectors.delivery.buffer import Batch, BufferFullError, DiskBuffer
from collectors.delivery.buffer_codec import EventGroups
from collectors.delivery.raw_lines import RawLines, RawParsing
from collectors.delivery.sinks import Sink
from collectors.enrich import Enrich
from collectors.stats import CollectorStats
from eventstore.base import Backoff, WriteResult

log = logging.getLogger(__name__)

ParseRaw = Callable[[RawLines], list[Event]]


DEFAULT_BACKOFF = Backoff()
WRITE_EVENTS = 20_000


@dataclass
class ShipReport:
    """What the sink answered, over a whole run."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    sink_failures: int = 0
    started: float = field(default_factory=time.perf_counter)

    def count(self, result: WriteResult) -> None:
        """Add what the sink answered to one write."""
        self.stored += result.inserted
        self.duplicates += result.duplicates
        self.rejected += result.rejected


class Shipper:
    """Moves enriched batches through a disk buffer into a sink, at least once."""

    def __init__(
        self,
        *,
        enrich: Enrich,
        sink: Sink,
        buffer: DiskBuffer,
        stats: CollectorStats,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        parse_raw: ParseRaw | None = None,
    ) -> None:
        self.enrich = enrich
        self.parse_raw = parse_raw or RawParsing(enrich, stats)
        self._parsed: dict[tuple[int, int], list[Event]] = {}  # lines parsed, not yet stored
        self.sink = sink
        self.buffer = buffer
        self.stats = stats
        self.backoff = backoff
        self.sleep = sleep
        self.report = ShipReport()
        self._failures = 0
        self._retry_at = 0.0
        self._dropped_seen = buffer.dropped_events

    def put(self, events: Sequence[Event]) -> None:
        """Enrich and buffer ``events`` durably; deliver when the sink is due."""
        if events:
            self._buffer([self.enrich(event) for event in events])

    def put_lines(self, lines: RawLines) -> None:
        """Buffer lines durably as they are: whoever delivers them parses them."""
        if lines:
            self._buffer(lines)

    def wants_lines(self) -> bool:
        """Whether the source should hand over its next lines unparsed (:meth:`put_lines`):
        only when another process has time to parse them."""
        return False

    def _buffer(self, batch: Sequence[Event] | RawLines) -> None:
        while True:
            try:
                self.buffer.append(batch)
                break
            except BufferFullError:
                self._on_full()
        self._count_drops()
        self._on_appended()

    def _on_full(self) -> None:
        """The buffer is full under ``block``: make room before the source goes on."""
        if not self.deliver():
            self._wait()

    def _on_appended(self) -> None:
        """A batch is durably buffered: deliver now if the sink is due."""
        if time.monotonic() >= self._retry_at:
            self.deliver()

    def tick(self) -> None:
        """Idle moment of the source: deliver what is buffered if the sink is due."""
        if time.monotonic() >= self._retry_at and not self.buffer.is_empty():
            self.deliver()

    def deliver(self) -> bool:
        """Write every buffered batch to the sink; ``False`` if the sink failed.

        Batches waiting one after another go to the sink together, up to ``WRITE_EVENTS``
        events: the embedded store spends less per event in fewer, longer transactions.
        """
        while (first := self.buffer.peek()) is not None:
            batches, count = [first], len(first.events)
            while count < WRITE_EVENTS and (after := self.buffer.peek_after(batches[-1])):
                batches.append(after)
                count += len(after.events)
            parts = [self._events_of(batch) for batch in batches]
            events = parts[0] if len(parts) == 1 else EventGroups.join(parts)
            try:
                result = self.sink.write(events)
            except StoreError as exc:
                self._failed(exc)
                return False
            self.report.count(result)
            for batch in batches:
                self.buffer.ack(batch)
                self._parsed.pop((batch.segment, batch.offset), None)
                self._after_ack()
        if self._failures:
            log.info("sink is back after %d failed attempts", self._failures)
        self._failures, self._retry_at = 0, 0.0
        return True

    def _after_ack(self) -> None:
        """One more buffered record is delivered and acknowledged."""

    def _events_of(self, batch: Batch) -> Sequence[Event]:
        """A batch's events; lines are parsed once, however often the sink refuses them."""
        if not isinstance(batch.events, RawLines):
            return batch.events
        where = (batch.segment, batch.offset)
        parsed = self._parsed.get(where)
        if parsed is None:
            parsed = self._parsed[where] = self.parse_raw(batch.events)
        return parsed

    def flush(self, *, timeout: float | None = None) -> bool:
        """Deliver everything buffered, retrying with backoff; ``False`` if time ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.deliver():
            if deadline is not None and time.monotonic() + self._pause() > deadline:
                log.warning(
                    "sink still failing; %d bytes stay buffered for the next run",
                    self.buffer.pending_bytes,
                )
                return False
            self._wait()
        return True

    def close(self) -> ShipReport:
        self.report.seconds = time.perf_counter() - self.report.started
        return self.report

    def _failed(self, exc: StoreError) -> None:
        self._failures += 1
        self.report.sink_failures += 1
        self._retry_at = time.monotonic() + self._pause()
        log.warning(
            "sink write failed (attempt %d, retry in %.1fs, %d bytes buffered): %s",
            self._failures, self._pause(), self.buffer.pending_bytes, exc,
        )  # fmt: skip

    def _pause(self) -> float:
        return self.backoff.delay(self._failures)

    def _wait(self) -> None:
        self.sleep(max(0.0, self._retry_at - time.monotonic()))

    def _count_drops(self) -> None:
        dropped = self.buffer.dropped_events - self._dropped_seen
        if dropped:
            self._dropped_seen = self.buffer.dropped_events
            self.stats.drop("buffer-full", dropped, f"drop-oldest in {self.buffer.directory}")


class BackgroundShipper(Shipper):
    """A shipper whose deliveries run in their own thread, so a slow or absent sink never
    stalls the source; the source waits only when the buffer is full under ``block``."""

    def __init__(
        self,
        *,
        enrich: Enrich,
        sink: Sink,
        buffer: DiskBuffer,
        stats: CollectorStats,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        super().__init__(enrich=enrich, sink=sink, buffer=buffer, stats=stats, backoff=backoff)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipper", daemon=True)
        self._thread.start()

    def _on_full(self) -> None:
        self._wake.set()
        time.sleep(0.05)  # backpressure: the source waits for the sink

    def _on_appended(self) -> None:
        self._wake.set()

    def tick(self) -> None:
        self._wake.set()

    def flush(self, *, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.buffer.is_empty():
            if deadline is not None and time.monotonic() > deadline:
                log.warning(
                    "sink still failing; %d bytes stay buffered for the next run",
                    self.buffer.pending_bytes,
                )
                return False
            self._wake.set()
            time.sleep(0.05)
        return True

    def close(self) -> ShipReport:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)
        return super().close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            while not self._stop.is_set() and not self.deliver():
                self._stop.wait(self._pause())
