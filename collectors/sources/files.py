"""Scan files dropped in watched folders (portal uploads, firmware images, mail attachments).

:class:`FolderWatcher` polls the folders with ``os.scandir`` and reports each file that is new
or changed once it has stopped changing for one poll (a file still being written is left for
the next). :func:`scan_file` hashes it (MD5, SHA-1, SHA-256), guesses its MIME type and runs
the YARA rules (:class:`YaraRules`, compiled once from a folder of ``*.yar``/``*.yara``) over
it, giving one ECS file event. Matches are scalar fields: ``yara.rules`` and ``yara.tags``
(comma-joined, sorted) and ``yara.match_count``; a file with a match is an ``alert``.
A file that cannot be read is counted (``file-unreadable``) and logged with its path.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yara  # type: ignore[import-not-found]  # yara-python ships no type hints

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import Location, RuleError
from collectors.related import add_related
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_SCAN_BYTES = 512 * 1024 * 1024
MAGIC = (
    (b"\x7fELF", "application/x-elf"),
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"#!", "text/x-shellscript"),
)


class YaraRules:
    """Every rule file of a folder, compiled once (each file its own namespace)."""

    def __init__(self, folder: Path) -> None:
        paths = sorted(p for p in folder.rglob("*") if p.suffix in (".yar", ".yara"))
        self.folder = folder
        self.count = len(paths)
        try:
            self.rules = yara.compile(filepaths={str(p.relative_to(folder)): str(p) for p in paths})
        except yara.Error as exc:
            raise RuleError(
                f"YARA rules do not compile: {exc}", location=Location(str(folder))
            ) from exc
        log.info("compiled %d YARA rule files from %s", self.count, folder)

    def match(self, data: bytes) -> list[yara.Match]:
        return list(self.rules.match(data=data, timeout=60))


@dataclass(frozen=True)
class Seen:
    size: int
    mtime_ns: int
    inode: int


def scan_file(path: Path, rules: YaraRules | None, stats: CollectorStats) -> Event | None:
    """One ECS file event for ``path``, or ``None`` (counted) when it cannot be read."""
    stats.received += 1
    where = Location(str(path))
    try:
        info = path.stat()
        data, digests = _read(path, info.st_size)
    except OSError as exc:
        stats.error("file-unreadable", where, exc.strerror or str(exc))
        return None
    event = _file_event(path, info, data, digests)
    if rules is not None and data is not None:
        try:
            _yara(event, rules.match(data))
        except yara.Error as exc:
            stats.error("yara-scan-failed", where, str(exc))
    elif rules is not None:
        stats.skip("yara-file-too-large")
    stats.parsed += 1
    stats.events += 1
    return event


def _read(path: Path, size: int) -> tuple[bytes | None, dict[str, str]]:
    """The content (if small enough to scan) and its hashes, read in one pass."""
    hashes = {name: hashlib.new(name) for name in ("md5", "sha1", "sha256")}
    keep = size <= MAX_SCAN_BYTES
    parts: list[bytes] = []
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in hashes.values():
                digest.update(chunk)
            if keep:
                parts.append(chunk)
    return (b"".join(parts) if keep else None), {k: h.hexdigest() for k, h in hashes.items()}


def _file_event(
    path: Path, info: os.stat_result, data: bytes | None, digests: dict[str, str]
) -> Event:
    event: Event = {
        "@timestamp": ecs.timestamp(info.st_mtime),
        "ecs.version": ecs.ECS_VERSION,
        "event.id": ecs.event_id("file.scan", path, digests["sha256"]),
        "event.kind": "event",
        "event.category": ["file"],
        "event.type": ["info"],
        "event.action": "file-scanned",
        "event.module": "yara",
        "event.dataset": "file.scan",
        "file.path": str(path),
        "file.name": path.name,
        "file.directory": str(path.parent),
        "file.size": info.st_size,
        "file.mtime": ecs.timestamp(info.st_mtime),
        "file.mime_type": _mime(path, data),
        "yara.match_count": 0,
    }
    if path.suffix:
        event["file.extension"] = path.suffix[1:].lower()
    for name, value in digests.items():
        event[f"file.hash.{name}"] = value
    add_related(event)
    return event


def _yara(event: Event, matches: list[yara.Match]) -> None:
    event["yara.match_count"] = len(matches)
    if not matches:
        return
    event["yara.rules"] = ",".join(sorted({m.rule for m in matches}))
    tags = sorted({tag for m in matches for tag in m.tags})
    if tags:
        event["yara.tags"] = ",".join(tags)
    event["event.kind"] = "alert"
    event["event.category"] = ["file", "malware"]
    event["event.type"] = ["info"]
    event["rule.name"] = event["yara.rules"]
    event["message"] = f"YARA rules {event['yara.rules']} matched {event['file.name']}"


def _mime(path: Path, data: bytes | None) -> str:
    head = (data or b"")[:16]
    for magic, mime in MAGIC:
        if head.startswith(magic):
            return mime
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class FolderWatcher:
    """New and changed regular files under some folders, found by polling."""

    def __init__(self, folders: list[Path], stats: CollectorStats) -> None:
        self.folders = folders
        self.stats = stats
        self._seen: dict[Path, Seen] = {}
        self._settling: dict[Path, Seen] = {}

    def poll(self, *, settle: bool = True) -> list[Path]:
        """Files new or changed since the last poll (and unchanged since the one before)."""
        ready: list[Path] = []
        current = dict(self._walk())
        for path, seen in current.items():
            if self._seen.get(path) == seen:
                continue
            if settle and self._settling.get(path) != seen:
                self._settling[path] = seen  # still being written, perhaps: next poll
                continue
            self._settling.pop(path, None)
            self._seen[path] = seen
            ready.append(path)
        for gone in set(self._seen) - set(current):
            del self._seen[gone]
        return sorted(ready)

    def _walk(self) -> Iterator[tuple[Path, Seen]]:
        pending = list(self.folders)
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                self.stats.error("folder-unreadable", Location(str(folder)), str(exc))
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    yield Path(entry.path), Seen(info.st_size, info.st_mtime_ns, info.st_ino)
