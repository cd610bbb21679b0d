"""Following a file: partial lines wait, rotation and truncation, offsets across restarts."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from collectors.sources.tail import FileTailer, Line, OffsetStore


def until_idle(lines: Iterator[Line | None]) -> list[Line]:
    got = []
    for line in lines:
        if line is None:
            return got
        got.append(line)
    return got


def start(
    path: Path, offsets: OffsetStore | None = None
) -> tuple[FileTailer, Iterator[Line | None]]:
    tailer = FileTailer(path, offsets, poll_seconds=0)
    return tailer, tailer.follow(threading.Event())


def test_a_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b'{"a":1}\n{"b":')
    _, lines = start(path)
    assert [line.data for line in until_idle(lines)] == [b'{"a":1}']
    with path.open("ab") as handle:
        handle.write(b"2}\n")
    got = until_idle(lines)
    assert [line.data for line in got] == [b'{"b":2}'] and got[0].end == path.stat().st_size


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b"one\n")
    _, lines = start(path)
    assert [line.data for line in until_idle(lines)] == [b"one"]
    with path.open("ab") as handle:
        handle.write(b"two\n")
    path.rename(tmp_path / "eve.json.1")
    path.write_bytes(b"three\n")
    seen = [line.data for line in until_idle(lines)] + [line.data for line in until_idle(lines)]
    assert seen == [b"two", b"three"]


def test_truncation_starts_again_at_the_beginning(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b"first line\nsecond line\n")
    _, lines = start(path)
    assert len(until_idle(lines)) == 2
    path.write_bytes(b"new\n")  # truncated in place, same inode
    seen = [line.data for line in until_idle(lines)] + [line.data for line in until_idle(lines)]
    assert seen == [b"new"]


def test_a_restart_goes_on_from_the_committed_offset(tmp_path: Path) -> None:
    path, offsets = tmp_path / "eve.json", OffsetStore(tmp_path / "offsets")
    path.write_bytes(b"a\nb\nc\n")
    tailer, lines = start(path, offsets)
    got = until_idle(lines)
    tailer.commit(got[1].end)  # only a and b are safe
    lines.close()
    _, again = start(path, offsets)
    assert [line.data for line in until_idle(again)] == [b"c"]


def test_a_saved_offset_of_another_file_is_ignored(tmp_path: Path) -> None:
    path, offsets = tmp_path / "eve.json", OffsetStore(tmp_path / "offsets")
    path.write_bytes(b"a\nb\n")
    tailer, lines = start(path, offsets)
    tailer.commit(until_idle(lines)[-1].end)
    lines.close()
    os.unlink(path)
    path.write_bytes(b"x\ny\nz\n")  # rotated while the collector was down
    _, again = start(path, offsets)
    assert [line.data for line in until_idle(again)] == [b"x", b"y", b"z"]
