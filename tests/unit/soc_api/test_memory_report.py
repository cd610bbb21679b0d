"""The debugging memory report: its figures, its files, and that it is off by default."""

from __future__ import annotations

import json
import os
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from citysoc.core.settings import Settings
from soc_api import memory_report
from soc_api.memory_report import MemoryReport


def test_off_unless_configured() -> None:
    assert Settings().debug_memory_seconds == 0


def test_open_files_counts_each_connection(tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc on this system")
    path = tmp_path / "x.db"
    conns = [sqlite3.connect(path) for _ in range(3)]
    for conn in conns:
        conn.execute("PRAGMA schema_version").fetchone()  # opens the file
    try:
        assert memory_report.open_files()[str(path)] == 3
    finally:
        for conn in conns:
            conn.close()
    assert str(path) not in memory_report.open_files()


def test_report_lines_and_growth(tmp_path: Path) -> None:
    was_tracing = tracemalloc.is_tracing()
    tracemalloc.start(2)  # as start() does
    report = MemoryReport(tmp_path, 3600, frames=2, probes={"cache": lambda: 7})
    try:
        first = report.write()  # the baseline of the growth
        kept = [bytearray(4096) for _ in range(256)]  # about 1 MiB that stays
        report.write()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    lines = [json.loads(line) for line in (tmp_path / "memory.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["time"] == first["time"]
    assert lines[1]["cache"] == 7 and lines[1]["pid"] == os.getpid()
    assert lines[1]["objects"]  # objects by type
    if Path("/proc/self/status").is_file():
        assert lines[1]["rss_kib"] > 0 and lines[1]["threads"] >= 1
    growth = (tmp_path / f"memory-{os.getpid()}-0001.txt").read_text()
    assert "test_memory_report.py" in growth.split("\n\n")[1]  # the top allocator: this test
    assert len(kept) == 256


def test_a_failing_probe_is_reported_not_raised(tmp_path: Path) -> None:
    def broken() -> int:
        raise RuntimeError("closed")

    line = MemoryReport(tmp_path, 3600, frames=0, probes={"cache": broken}).sample()
    assert line["cache"] == "error: closed"
    assert "traced_bytes" not in line or tracemalloc.is_tracing()
