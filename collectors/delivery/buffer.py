"""A bounded, disk-backed queue of event batches between a source and its sink.

Batches are appended to segment files (``segment-<n>.log``) and fsynced, so a batch the
source has handed over survives a kill -9. The sink's progress is an acknowledged read
position (``ack.json``, replaced atomically); a restart delivers again everything after it.
With idempotent event ids this gives delivery that loses nothing and stores nothing twice.

Each record is a 12-byte header (payload length, CRC-32 of the payload, number of events)
and the batch as a payload in a versioned format (:mod:`collectors.delivery.buffer_codec`). A record
cut short by a crash is cut off at start-up; a corrupt record is counted, logged with its
location and skipped; a record in a format this version cannot read stops delivery with an
error and stays on disk.

The buffer is bounded by ``max_bytes``. When a batch does not fit, the policy decides:
``block`` raises :class:`BufferFullError` (the shipper then waits for the sink: backpressure),
``drop-oldest`` drops the oldest unacknowledged batches, counted and logged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Self

from pydantic import BaseModel, ValidationError

from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.delivery.buffer_codec import (
    EventGroups,
    UnknownFormatError,
    decode_batch,
    encode_batch,
    encode_lines,
)
from collectors.delivery.raw_lines import RawLines

log = logging.getLogger(__name__)

HEADER = struct.Struct("<III")
SEGMENT_BYTES = 16 * 1024 * 1024
MAX_BYTES = 256 * 1024 * 1024
CACHED_BATCHES = 8


class FullPolicy(StrEnum):
    BLOCK = "block"
    DROP_OLDEST = "drop-oldest"


class BufferFullError(CollectorError):
    """The buffer holds ``max_bytes`` and its policy is ``block``: deliver first."""


class AckPosition(BaseModel):
    """What the sink has acknowledged: everything before ``offset`` in ``segment``."""

    segment: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Batch:
    """A batch read back from the buffer, with where it starts and ends."""

    segment: int
    offset: int
    end: int
    events: Sequence[Event] | RawLines  # lines are parsed by whoever delivers them


class DiskBuffer:
    """Append-only segments with an acknowledged read position; one reader, one writer."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = MAX_BYTES,
        segment_bytes: int = SEGMENT_BYTES,
        policy: FullPolicy = FullPolicy.BLOCK,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.policy = policy
        self.dropped_events = 0
        self.corrupt_records = 0
        self._mutex = threading.RLock()  # a source thread appends while a shipper delivers
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        self._ack = self._load_ack()
        self._cache: OrderedDict[tuple[int, int], Sequence[Event] | RawLines] = OrderedDict()
        segments = self._segments()
        self._write_segment = segments[-1] if segments else self._ack.segment
        self._recover(self._write_segment)
        if segments and self._ack.segment < segments[0]:
            self._ack = AckPosition(segment=segments[0], offset=0)

    def _take_lock(self) -> IO[str]:
        lock = (self.directory / "lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise CollectorError(
                "disk buffer is in use by another collector", location=Location(str(self.directory))
            ) from exc
        return lock

    def close(self) -> None:
        """Release the buffer for another collector process."""
        self._lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sizes ------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        """Bytes on disk not yet acknowledged."""
        with self._mutex:
            return self._pending_bytes()

    def _pending_bytes(self) -> int:
        total = sum(self._size(n) for n in self._segments() if n >= self._ack.segment)
        return max(0, total - self._ack.offset)

    def is_empty(self) -> bool:
        return self.pending_bytes == 0

    # -- writing ----------------------------------------------------------------------
    def append(self, events: Sequence[Event] | RawLines) -> None:
        """Write one batch (or lines to parse) durably (fsync); raise :class:`BufferFullError`
        under ``block``."""
        if not events:
            return
        with self._mutex:
            self._append(events)

    def _append(self, events: Sequence[Event] | RawLines) -> None:
        batch: Sequence[Event] | RawLines
        if isinstance(events, RawLines):
            batch, payload = events, encode_lines(events)
        else:
            batch = EventGroups.of(events)
            payload = encode_batch(batch)
        record = HEADER.pack(len(payload), zlib.crc32(payload), len(events)) + payload
        self._make_room(len(record))
        if self._size(self._write_segment) >= self.segment_bytes:
            self._write_segment += 1
        path = self._path(self._write_segment)
        with path.open("ab") as handle:
            offset = handle.tell()
            handle.write(record)
            handle.flush()
            os.fsync(handle.fileno())
        self._cache[(self._write_segment, offset)] = batch
        while len(self._cache) > CACHED_BATCHES:
            self._cache.popitem(last=False)

    def _make_room(self, needed: int) -> None:
        pending = self.pending_bytes
        if pending == 0 or pending + needed <= self.max_bytes:
            return  # an oversized batch into an empty buffer is still accepted
        if self.policy is FullPolicy.BLOCK:
            raise BufferFullError(f"disk buffer {self.directory} is full ({pending} bytes pending)")
        while pending and pending + needed > self.max_bytes:
            batch = self.peek()
            if batch is None:
                break
            self.dropped_events += len(batch.events)
            log.warning(
                "disk buffer %s full: dropped the oldest batch (%d events)",
                self.directory, len(batch.events),
            )  # fmt: skip
            self.ack(batch)
            pending = self.pending_bytes

    # -- reading ----------------------------------------------------------------------
    def peek(self) -> Batch | None:
        """The oldest batch not yet acknowledged, or ``None`` when all are delivered."""
        with self._mutex:
            return self._peek()

    def _peek(self) -> Batch | None:
        while True:
            segment, offset = self._ack.segment, self._ack.offset
            if segment > self._write_segment:
                return None
            size = self._size(segment)
            if offset >= size:
                if segment >= self._write_segment:
                    return None
                self._advance(AckPosition(segment=segment + 1, offset=0))
                continue
            batch = self._record(segment, offset, size)
            if batch is not None:
                return batch
            self.corrupt_records += 1
            where = Location(str(self._path(segment)), offset=offset)
            log.error("%s: corrupt buffer record; skipping the rest of the segment", where)
            self._advance(AckPosition(segment=segment, offset=size))

    def peek_after(self, batch: Batch) -> Batch | None:
        """The batch after ``batch`` (read ahead, so several go to the sink in one write), or
        ``None`` at the end or at a record only :meth:`peek` may deal with."""
        with self._mutex:
            segment, offset = batch.segment, batch.end
            while segment <= self._write_segment:
                size = self._size(segment)
                if offset < size:
                    try:
                        return self._record(segment, offset, size)
                    except CollectorError:  # a format this version cannot read
                        return None
                segment, offset = segment + 1, 0
            return None

    def ack(self, batch: Batch) -> None:
        """The sink has stored ``batch``: move past it and forget finished segments."""
        with self._mutex:
            self._ack_batch(batch)

    def _ack_batch(self, batch: Batch) -> None:
        self._cache.pop((batch.segment, batch.offset), None)
        self._advance(AckPosition(segment=batch.segment, offset=batch.end))
        if batch.segment == self._write_segment and batch.end >= self._size(batch.segment):
            self._write_segment += 1  # all delivered: start afresh, the old segment goes
            self._advance(AckPosition(segment=self._write_segment, offset=0))

    def _record(self, segment: int, offset: int, size: int) -> Batch | None:
        """The record at ``offset``, or ``None`` if it is cut short or corrupt."""
        with self._path(segment).open("rb") as handle:
            handle.seek(offset)
            header = handle.read(HEADER.size)
            if len(header) == HEADER.size:
                length, crc, _count = HEADER.unpack(header)
                end = offset + HEADER.size + length
                cached = self._cache.get((segment, offset))
                if cached is not None and end <= size:
                    return Batch(segment, offset, end, cached)
                payload = handle.read(length) if end <= size else b""
                events = None
                if len(payload) == length:
                    events = self._decode(payload, crc, segment, offset)
                if events is not None:
                    return Batch(segment, offset, end, events)
        return None

    def _decode(
        self, payload: bytes, crc: int, segment: int, offset: int
    ) -> Sequence[Event] | RawLines | None:
        if zlib.crc32(payload) != crc:
            return None
        try:
            return decode_batch(payload)
        except UnknownFormatError as exc:
            where = Location(str(self._path(segment)), offset=offset)
            raise CollectorError(f"cannot deliver the disk buffer: {exc}", location=where) from exc

    # -- state ------------------------------------------------------------------------
    def _advance(self, position: AckPosition) -> None:
        tmp = self.directory / "ack.json.tmp"
        tmp.write_text(position.model_dump_json())
        tmp.replace(self.directory / "ack.json")
        self._ack = position
        for number in self._segments():
            if number < position.segment or (
                number == position.segment
                and number < self._write_segment
                and position.offset >= self._size(number)
            ):
                self._path(number).unlink(missing_ok=True)

    def _load_ack(self) -> AckPosition:
        path = self.directory / "ack.json"
        try:
            return AckPosition.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return AckPosition()
        except (OSError, ValidationError) as exc:
            log.error("%s: unreadable ack position, delivering from the start: %s", path, exc)
            return AckPosition()

    def _recover(self, segment: int) -> None:
        """Cut off a record that a crash left half-written at the end of the last segment."""
        path = self._path(segment)
        if not path.exists():
            return
        good = 0
        with path.open("rb") as handle:
            while header := handle.read(HEADER.size):
                if len(header) < HEADER.size:
                    break
                length = HEADER.unpack(header)[0]
                if len(handle.read(length)) < length:
                    break
                good = handle.tell()
        if good < path.stat().st_size:
            log.warning("%s: cut off a half-written record at byte %d", path, good)
            with path.open("r+b") as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())

    def _segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("segment-*.log"))

    def _path(self, number: int) -> Path:
        return self.directory / f"segment-{number:012d}.log"

    def _size(self, number: int) -> int:
        try:
            return self._path(number).stat().st_size
        except FileNotFoundError:
            return 0
