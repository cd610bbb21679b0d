"""Requests served from many threads share the event store's one connection and a bounded
pool of SOC state connections: each SQLite connection holds a page cache of its own (64 MiB
for the event store), so a connection per thread would grow the process with its threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread

from soc_api.db import API_THREADS
from soc_api.memory_report import open_files

Soc = Any  # the seeded SOC helper of conftest.py

PATHS = ("/api/v1/alerts?limit=50", "/api/v1/incidents", "/health", "/api/v1/events?limit=20")


def test_connections_stay_bounded_however_many_threads_ask(soc: Soc) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc on this system: open files cannot be counted")
    headers = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    data_dir = soc.ctx.settings.data_dir.resolve()
    events_db, state_db = str(data_dir / "events.db"), str(data_dir / "soc.db")

    def ask(n: int) -> int:
        return int(soc.client.get(PATHS[n % len(PATHS)], headers=headers).status_code)

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(ask, range(240)))
    assert set(statuses) == {200}
    files = open_files()
    assert files.get(events_db) == 1, files  # one connection, behind the store's lock
    engine = soc.ctx.sessions.kw["bind"]
    most = engine.pool.size() + engine.pool._max_overflow
    assert 1 <= files.get(state_db, 0) <= most, files


async def _thread_limit() -> float:
    return to_thread.current_default_thread_limiter().total_tokens


def test_request_threads_are_fewer_than_the_state_connections(soc: Soc) -> None:
    """Every request thread can hold a connection and some are left for the background work
    of the process (docs/architecture.md, Requests and threads)."""
    assert soc.client.portal is not None, "the app's lifespan runs"
    assert soc.client.portal.call(_thread_limit) == API_THREADS
    engine = soc.ctx.sessions.kw["bind"]
    assert engine.pool.size() >= API_THREADS + 2
