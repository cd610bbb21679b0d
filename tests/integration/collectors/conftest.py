"""Collector test helpers: ``closed_port`` (a sink that is down, on 127.0.0.1); ``stored``,
what a store file holds, read without disturbing a running collector; and ``write_flows``, a
large EVE file of distinct flow records. The live engine is in ``tests/integration/conftest``.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stored(db: Path) -> tuple[int, int]:
    """(rows, distinct event ids) in the store, read without disturbing the collector."""
    if not db.exists():
        return 0, 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            row = conn.execute('SELECT COUNT(*), COUNT(DISTINCT "event.id") FROM events').fetchone()
        except sqlite3.OperationalError:
            return 0, 0
    return int(row[0]), int(row[1])


@pytest.fixture
def stored() -> Callable[[Path], tuple[int, int]]:
    return _stored


WriteFlows = Callable[[Path, int], None]


def _write_flows(path: Path, count: int) -> None:
    with path.open("w") as out:
        for n in range(count):
            stamp = f"2026-11-20T02:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000"
            record = {
                "timestamp": stamp + "+0000", "flow_id": 1_000_000 + n, "event_type": "flow",
                "src_ip": f"10.20.{n % 250}.{n % 200 + 1}", "src_port": 40000 + n % 20000,
                "dest_ip": "10.10.0.20", "dest_port": 443, "proto": "TCP",
                "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 600,
                         "bytes_toclient": 3000, "state": "closed"},
            }  # fmt: skip
            out.write(json.dumps(record) + "\n")


@pytest.fixture
def write_flows() -> WriteFlows:
    """Writes ``count`` EVE flow lines, each a distinct event, to a file."""
    return _write_flows
