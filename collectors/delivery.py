"""Delivery from the disk buffer in a process of its own, so the sink gets a second core.

:class:`ProcessShipper` has the :class:`~collectors.shipper.Shipper` interface. In the reading
process it enriches each batch, appends it to the buffer (fsynced) and then announces the
committed end on a pipe; a ``spawn``-ed process (:func:`deliver_main`) delivers up to that end
and sends back its counts (the protocol on the buffer is in :mod:`collectors.buffer_roles`).

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
from collections.abc import Callable
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO

from citysoc.core.ecs import Event
from collectors.buffer_roles import AppendingBuffer, DeliveringBuffer, Position
from collectors.shipper import Enrich, Shipper, ShipReport
from collectors.sinks import Sink
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

OpenSink = Callable[[], AbstractContextManager[Sink]]
IDLE_SECONDS = 0.2
STOP_SECONDS = 60.0
COUNTS = ("stored", "duplicates", "rejected", "sink_failures")


def deliver_main(directory: Path, start: Position, open_sink: OpenSink, pipe: Connection) -> None:
    """The delivery process: deliver every announced record until told to stop, or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the reading process; it tells us
    buffer = DeliveringBuffer(directory, start=start)
    with open_sink() as sink, buffer:
        shipper = Shipper(enrich=_same, sink=sink, buffer=buffer, stats=CollectorStats())
        closing = False
        while not (closing and buffer.caught_up()):
            idle = not closing and buffer.caught_up()
            closing = _receive(pipe, buffer, wait=IDLE_SECONDS if idle else 0.0) or closing
            delivered = shipper.deliver()
            _send(pipe, shipper.report, buffer)
            if not delivered:
                if closing:
                    break  # the sink is down: what is left stays buffered for the next run
                pause = shipper.backoff.delay(shipper.report.sink_failures)
                closing = _receive(pipe, buffer, wait=pause) or closing
        _send(pipe, shipper.report, buffer)


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


def _send(pipe: Connection, report: ShipReport, buffer: DeliveringBuffer) -> None:
    counts = {name: getattr(report, name) for name in COUNTS}
    with contextlib.suppress(OSError):  # the reading process is gone: nobody to tell
        pipe.send((counts, buffer.end if buffer.caught_up() else None))


class ProcessShipper(Shipper):
    """Enriches and buffers in this process while a spawned process delivers."""

    def __init__(
        self,
        *,
        enrich: Enrich,
        sink: Sink,
        buffer: AppendingBuffer,
        stats: CollectorStats,
        open_sink: OpenSink,
    ) -> None:
        super().__init__(enrich=enrich, sink=sink, buffer=buffer, stats=stats)
        self.appending = buffer
        self._delivered: Position | None = None
        self._takeover: IO[str] | None = None  # deliver.lock, once this process delivers
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self.process = context.Process(
            target=deliver_main,
            args=(buffer.directory, buffer.committed(), open_sink, child),
            name="citysoc-deliver",
            daemon=True,
        )
        self.process.start()
        child.close()

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
        return super().close()

    def _announce(self) -> None:
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
                counts, self._delivered = self._pipe.recv()
                for name, value in counts.items():
                    setattr(self.report, name, value)
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
