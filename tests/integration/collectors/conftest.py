"""Collector test helpers: ``stored``, what a store file holds, read without disturbing a
running collector. ``closed_port``, ``write_flows`` and the live engine are shared by every
integration test, in ``tests/integration/conftest``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest


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
