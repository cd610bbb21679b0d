"""Follow a growing log file the way ``tail -F`` does, and remember how far it got.

:class:`FileTailer` yields complete lines with the file offset just after each one, and
``None`` whenever it has caught up (the caller then flushes what it holds). A last line
without its newline waits for it. When the path names a new file (rotation: another
inode) the rest of the old file is read first; when the file shrinks (truncation) reading
starts again at its beginning. :meth:`FileTailer.commit` saves the offset of the current
file in an :class:`OffsetStore`, so a restart goes on from there (at least once: commit
only what the sink or the disk buffer holds).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_LINE = 1024 * 1024
HEAD_BYTES = 1024


class TailPosition(BaseModel):
    """How far a file has been read: which file (device, inode) and up to which byte."""

    path: str
    device: int
    inode: int
    offset: int
    head: str = ""  # hash of the file's first bytes: inode numbers get reused


@dataclass(frozen=True)
class Line:
    """One line without its newline; ``complete`` is false for a cut or abandoned line."""

    data: bytes
    start: int
    end: int
    complete: bool = True


class OffsetStore:
    """Tail positions, one small JSON file per followed path, replaced atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _file(self, path: Path) -> Path:
        key = hashlib.blake2b(str(path.resolve()).encode(), digest_size=8).hexdigest()
        return self.directory / f"{path.name}-{key}.json"

    def load(self, path: Path) -> TailPosition | None:
        try:
            return TailPosition.model_validate_json(self._file(path).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.error("%s: unreadable tail position, reading from the start: %s", path, exc)
            return None

    def save(self, position: TailPosition) -> None:
        target = self._file(Path(position.path))
        tmp = target.with_suffix(".tmp")
        tmp.write_text(position.model_dump_json())
        tmp.replace(target)


class FileTailer:
    """Lines of a file as it grows, across rotation and truncation."""

    def __init__(
        self, path: Path, offsets: OffsetStore | None = None, *, poll_seconds: float = 0.25
    ) -> None:
        self.path = path
        self.offsets = offsets
        self.poll_seconds = poll_seconds
        self._handle: BinaryIO | None = None
        self._identity = (0, 0)
        self._pending = b""
        self._pending_start = 0
        self._discarding = False

    def follow(self, stop: threading.Event) -> Iterator[Line | None]:
        """Lines until ``stop`` is set; ``None`` each time the file has no more for now."""
        try:
            while not stop.is_set():
                if self._handle is None and not self._open():
                    yield None
                    stop.wait(self.poll_seconds)
                    continue
                assert self._handle is not None
                chunk = self._handle.read(CHUNK)
                if chunk:
                    yield from self._split(chunk)
                    continue
                change = self._change()
                if change is not None:
                    rest = self._handle.read()  # written just before the rotation
                    yield from self._split(rest)
                    yield from self._abandon_pending(change)
                    yield None  # let the caller commit the old file's lines first
                    if change == "rotated":
                        self._close()
                    else:
                        self._restart()
                    continue
                yield None
                stop.wait(self.poll_seconds)
            yield None  # stopping: a last chance to commit while the file is open
        finally:
            self._close()

    def commit(self, offset: int) -> None:
        """Remember that everything before ``offset`` of the current file is safe."""
        if self.offsets is not None and self._handle is not None:
            device, inode = self._identity
            head = _head(self._handle, offset)
            self.offsets.save(
                TailPosition(
                    path=str(self.path), device=device, inode=inode, offset=offset, head=head
                )
            )

    def _open(self) -> bool:
        try:
            handle = self.path.open("rb")
        except OSError:
            return False
        info = os.fstat(handle.fileno())
        self._handle, self._identity = handle, (info.st_dev, info.st_ino)
        saved = self.offsets.load(self.path) if self.offsets else None
        start = 0
        same = saved and (saved.device, saved.inode) == self._identity
        if (
            saved
            and same
            and saved.offset <= info.st_size
            and saved.head == _head(handle, saved.offset)
        ):
            start = saved.offset
        elif saved:
            log.info("%s: not the file of the saved position; reading from the start", self.path)
        handle.seek(start)
        self._pending, self._pending_start, self._discarding = b"", start, False
        return True

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def _change(self) -> str | None:
        """At the end of the open file: has the path been rotated or truncated?"""
        assert self._handle is not None
        try:
            info = self.path.stat()
        except OSError:
            return None  # rotated away and not yet re-created: keep waiting
        if (info.st_dev, info.st_ino) != self._identity:
            log.info("%s: rotated; following the new file", self.path)
            return "rotated"
        if info.st_size < self._handle.tell():
            log.warning(
                "%s: truncated to %d bytes; reading from the start", self.path, info.st_size
            )
            return "truncated"
        return None

    def _restart(self) -> None:
        assert self._handle is not None
        self._handle.seek(0)
        self._pending, self._pending_start, self._discarding = b"", 0, False
        self.commit(0)

    def _split(self, chunk: bytes) -> Iterator[Line]:
        data = self._pending + chunk
        start = self._pending_start
        lines = data.split(b"\n")
        for raw in lines[:-1]:
            end = start + len(raw) + 1
            if self._discarding:
                self._discarding = False
            else:
                yield Line(raw, start, end)
            start = end
        self._pending, self._pending_start = lines[-1], start
        if len(self._pending) > MAX_LINE:
            end = start + len(self._pending)
            if not self._discarding:
                yield Line(self._pending[:MAX_LINE], start, end, complete=False)
            self._pending, self._pending_start, self._discarding = b"", end, True

    def _abandon_pending(self, why: str) -> Iterator[Line]:
        if self._pending and not self._discarding:
            end = self._pending_start + len(self._pending)
            log.warning("%s: last line of the old file has no newline (%s)", self.path, why)
            yield Line(self._pending, self._pending_start, end, complete=False)
        self._pending = b""


def _head(handle: BinaryIO, offset: int) -> str:
    """Fingerprint of the first bytes of the file (at most ``offset`` of them)."""
    data = os.pread(handle.fileno(), min(offset, HEAD_BYTES), 0)
    return hashlib.blake2b(data, digest_size=8).hexdigest()
