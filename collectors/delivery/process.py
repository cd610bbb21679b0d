"""Delivery from the disk buffer in a process of its own, so the sink gets a second core.

:class:`ProcessShipper` has the :class:`~collectors.delivery.shipper.Shipper` interface. In the
reading process it enriches each batch, appends it to the buffer (fsynced) and then announces the
committed end on a pipe; a ``spawn``-ed process (:func:`deliver_main`) delivers up to that end
and sends back its counts (the protocol on the buffer is in
:mod:`collectors.delivery.buffer_roles`).

When the delivery process has only a few records left to deliver, the reading process hands it
its next lines unparsed (:meth:`ProcessShipper.wants_lines`,
:mod:`collectors.delivery.raw_lines`): the delivery process parses and enriches them itself and
sends back what it counted, so neither process waits for the other and parsing uses both cores.
The batches the reading process parses itself it stores itself while the sink takes them
(:meth:`ProcessShipper.put`): stored, they need no buffer; they are buffered only when the sink
fails. So each process parses and stores its own share (taking turns at an SQLite store:
:class:`SinkTurns`), and no batch is encoded for the buffer, written, read back and decoded on
its way between them.

If the reading process dies, the delivery process sees the pipe close, delivers what was
announced and exits; what was appended but not announced stays buffered for the next run. If
the delivery process dies, the reading process takes delivery over in its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from citysoc.core.logs import LogFormat, configure_logging, current_logging
from collectors.delivery.buffer_roles import AppendingBuffer, DeliveringBuffer, Position, SinkTurns
from collectors.delivery.raw_lines import RawParsing
from collectors.delivery.shipper import Shipper, ShipReport
from collectors.delivery.sinks import Sink, takes_turns
from collectors.enrich import Enrich
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

OpenSink = Callable[[], AbstractContextManager[Sink]]
MakeEnrich = Callable[[], Enrich]  # picklable: the delivery process makes its own
IDLE_SECONDS = 0.2
STOP_SECONDS = 60.0
LINES_WHEN_AT_MOST = 1  # records the delivery process may have left when it is handed lines
COUNTS = ("stored", "duplicates", "rejected", "sink_failures")


@dataclass(frozen=True)
class DeliverySetup:
    """What the delivery process is started with (pickled: it is ``spawn``-ed)."""

    directory: Path
    start: Position
    open_sink: OpenSink
    make_enrich: MakeEnrich
    logging: tuple[str, LogFormat]


def deliver_main(setup: DeliverySetup, pipe: Connection) -> None:
    """The delivery process: deliver every announced record until told to stop, or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the reading process; it tells us
    configure_logging(*setup.logging)
    buffer = DeliveringBuffer(setup.directory, start=setup.start)
    parsing = RawParsing(setup.make_enrich(), CollectorStats())
    with (
        setup.open_sink() as sink,
        buffer,
        contextlib.closing(SinkTurns(setup.directory, needed=takes_turns(sink))) as turns,
    ):
        shipper = CountingShipper(
            enrich=_same,
            sink=turns.writing(sink),
            buffer=buffer,
            stats=CollectorStats(),
            parse_raw=parsing,
        )
        shipper.on_record = lambda: _send(pipe, shipper, buffer, parsing)
        closing = False
        while not (closing and buffer.caught_up()):
            idle = not closing and buffer.caught_up()
            closing = _receive(pipe, buffer, wait=IDLE_SECONDS if idle else 0.0) or closing
            delivered = shipper.deliver()
            _send(pipe, shipper, buffer, parsing)
            if not delivered:
                if closing:
                    break  # the sink is down: what is left stays buffered for the next run
                pause = shipper.backoff.delay(shipper.report.sink_failures)
                closing = _receive(pipe, buffer, wait=pause) or closing
        _send(pipe, shipper, buffer, parsing)


class CountingShipper(Shipper):
    """A shipper that counts the records it delivers and reports after each one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records = 0
        self.on_record: Callable[[], None] = lambda: None

    def _after_ack(self) -> None:
        self.records += 1
        self.on_record()


def _same(event: Event) -> Event:
    return event


def _receive(pipe: Connection, buffer: DeliveringBuffer, *, wait: float) -> bool:
    """Take the announcements that have come; ``True`` when told to stop or orphaned."""
    try:
        while pipe.poll(wait):
            message = pipe.recv()
            if message is None:
                return True
            buffer.announce(message)
            wait = 0.0
    except (EOFError, OSError):
        return True
    return False


def _send(
    pipe: Connection, shipper: CountingShipper, buffer: DeliveringBuffer, parsing: RawParsing
) -> None:
    """Counts so far, records delivered, the end if caught up, and lines' counts since last."""
    counts = {name: getattr(shipper.report, name) for name in COUNTS}
    end = buffer.end if buffer.caught_up() else None
    with contextlib.suppress(OSError):  # the reading process is gone: nobody to tell
        pipe.send((counts, end, shipper.records, parsing.stats))
        parsing.stats = CollectorStats()


class ProcessShipper(Shipper):
    """Enriches and stores (or buffers) in this process while a spawned process delivers."""

    def __init__(
        self,
        *,
        make_enrich: MakeEnrich,
        sink: Sink,
        buffer: AppendingBuffer,
        stats: CollectorStats,
        open_sink: OpenSink,
    ) -> None:
        self.turns = SinkTurns(buffer.directory, needed=takes_turns(sink))
        super().__init__(
            enrich=make_enrich(), sink=self.turns.writing(sink), buffer=buffer, stats=stats
        )
        self.appending = buffer
        self._theirs = dict.fromkeys(COUNTS, 0)  # the delivery process's counts so far
        self._delivered: Position | None = None
        self._appended = 0  # records this process has announced
        self._delivered_records = 0  # records the delivery process has delivered
        self._takeover: IO[str] | None = None  # deliver.lock, once this process delivers
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        setup = DeliverySetup(
            buffer.directory, buffer.committed(), open_sink, make_enrich, current_logging()
        )
        self.process = context.Process(
            target=deliver_main, args=(setup, child), name="citysoc-deliver", daemon=True
        )
        self.process.start()
        child.close()

    def put(self, events: Sequence[Event]) -> None:
        """Enrich ``events`` and store them now if the sink takes them (the delivery process
        may be writing: we wait for our turn); else buffer them durably, as a shipper does."""
        if not events:
            return
        enriched = [self.enrich(event) for event in events]
        if self._takeover is None and time.monotonic() >= self._retry_at:
            try:
                result = self.sink.write(enriched)
            except StoreError as exc:
                self._failed(exc)  # the delivery process retries them from the buffer
            else:
                self.report.count(result)
                if self._failures:
                    log.info("sink is back after %d failed attempts", self._failures)
                self._failures = 0
                self._poll(0.0)
                return
        self._buffer(enriched)

    def _on_full(self) -> None:
        if self._takeover is not None:
            super()._on_full()
        else:
            self._poll(0.05)  # backpressure: the source waits for the delivery process

    def _on_appended(self) -> None:
        if self._takeover is not None:
            super()._on_appended()
        else:
            self._announce()

    def tick(self) -> None:
        if self._takeover is not None:
            super().tick()
        else:
            self._poll(0.0)

    def wants_lines(self) -> bool:
        """Yes while the delivery process has few records left: it has time to parse."""
        if self._takeover is not None:
            return False
        self._poll(0.0)
        left = self._appended - self._delivered_records
        return self._takeover is None and left <= LINES_WHEN_AT_MOST

    def flush(self, *, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        target = self.appending.committed()
        while self._takeover is None and self._delivered != target:
            if deadline is not None and time.monotonic() > deadline:
                log.warning(
                    "sink still failing; %d bytes stay buffered for the next run",
                    self.buffer.pending_bytes,
                )
                return False
            self._poll(0.05)
        if self._takeover is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            return super().flush(timeout=left)
        return True

    def close(self) -> ShipReport:
        if self._pipe.closed:
            return self.report
        if self._takeover is None:
            self._tell(None)
            deadline = time.monotonic() + STOP_SECONDS
            while self.process.is_alive() and time.monotonic() < deadline:
                self._poll(0.05, take_over=False)
            self._poll(0.0, take_over=False)
        if self.process.is_alive():
            log.warning("the delivery process did not stop; ending it")
            self.process.kill()
        self.process.join()
        self._pipe.close()
        if self._takeover is not None:
            self._takeover.close()
        self.turns.close()
        self.appending.forget_delivered()
        return super().close()

    def _announce(self) -> None:
        self._appended += 1
        self._tell(self.appending.committed())
        self._poll(0.0)

    def _tell(self, message: Position | None) -> None:
        try:
            self._pipe.send(message)
        except OSError:
            self._take_over()

    def _poll(self, wait: float, *, take_over: bool = True) -> None:
        """Read the delivery process's counts; take delivery over when it has gone."""
        try:
            while self._pipe.poll(wait):
                counts, self._delivered, self._delivered_records, parsed = self._pipe.recv()
                for name, value in counts.items():  # ours are in the report too: add theirs
                    setattr(
                        self.report, name, getattr(self.report, name) + value - self._theirs[name]
                    )
                    self._theirs[name] = value
                self.stats.absorb(parsed)
                wait = 0.0
        except (EOFError, OSError):
            if take_over:
                self._take_over()
            return
        if take_over and not self.process.is_alive():
            self._take_over()

    def _take_over(self) -> None:
        if self._takeover is not None:
            return
        self.process.join(timeout=STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        log.warning(
            "the delivery process is gone (exit code %s); this process delivers now",
            self.process.exitcode,
        )
        self._takeover = self.appending.take_over()
