"""Nothing lost, nothing stored twice: kill -9 mid-input, and a sink that is down then back.

Each test runs the real CLI (``citysoc collect eve --follow``) in a subprocess on a large
generated EVE file, in a data folder of its own, and checks the store at the end.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eventstore.engine.client import EngineClient
from eventstore.engine.store import EngineEventStore
from eventstore.sqlite import SqliteEventStore

Stored = Callable[[Path], tuple[int, int]]
WriteFlows = Callable[[Path, int], None]
REPO = Path(__file__).resolve().parents[3]


class Collector:
    """``citysoc collect eve --follow`` in a subprocess with its own data folder."""

    def __init__(self, tmp: Path, eve: Path, env: dict[str, str], *extra: str) -> None:
        self.tmp, self.eve, self.extra = tmp, eve, extra
        self.env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp / "var"), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> None:
        command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", "--follow",
                   str(self.eve), "--drain-timeout", "2", *self.extra]  # fmt: skip
        log = (self.tmp / "collector.log").open("ab")
        self.proc = subprocess.Popen(
            command, cwd=REPO, env={**self.env, **env}, stdout=log, stderr=log
        )

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def committed_offset(self) -> int:
        files = list((self.tmp / "var" / "offsets").glob("*.json"))
        return json.loads(files[0].read_text())["offset"] if files else 0

    def log(self) -> str:
        return (self.tmp / "collector.log").read_text(errors="replace")


@pytest.fixture
def collectors() -> Iterator[list[Collector]]:
    made: list[Collector] = []
    yield made
    for collector in made:
        if collector.proc is not None and collector.proc.poll() is None:
            collector.proc.kill()
            collector.proc.wait(timeout=10)


def wait_until(
    check: Callable[[], bool], what: str, collector: Collector, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; collector log:\n{collector.log()[-3000:]}")
        time.sleep(0.05)


def test_kill_9_in_the_middle_then_restart_stores_every_event_once(
    tmp_path: Path,
    collectors: list[Collector],
    stored: Stored,
    write_flows: WriteFlows,
) -> None:
    count, eve = 30_000, tmp_path / "eve.json"
    write_flows(eve, count)
    db = tmp_path / "var" / "events.db"
    collector = Collector(tmp_path, eve, {})
    collectors.append(collector)
    collector.start()
    wait_until(lambda: stored(db)[0] >= 3_000, "the first events", collector)
    collector.kill(signal.SIGKILL)
    killed_at = stored(db)[0]
    assert 0 < killed_at < count, "the collector was not killed in the middle of the input"
    collector.start()
    wait_until(lambda: stored(db)[0] >= count, "every event after the restart", collector)
    time.sleep(0.5)  # anything extra would show up now
    assert collector.kill(signal.SIGTERM) == 0
    assert stored(db) == (count, count)


def test_a_locked_store_buffers_everything_then_delivers_it_once(
    tmp_path: Path,
    collectors: list[Collector],
    stored: Stored,
    write_flows: WriteFlows,
) -> None:
    count, eve = 10_000, tmp_path / "eve.json"
    write_flows(eve, count)
    db = tmp_path / "var" / "events.db"
    SqliteEventStore(db).close()
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    collector = Collector(tmp_path, eve, {})
    collectors.append(collector)
    collector.start()
    size = eve.stat().st_size
    wait_until(lambda: collector.committed_offset() == size, "the input to be buffered", collector)
    wait_until(lambda: "sink write failed" in collector.log(), "a failed write", collector)
    assert lock.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    lock.execute("ROLLBACK")
    lock.close()
    wait_until(lambda: stored(db)[0] >= count, "delivery once the store is free", collector)
    assert collector.kill(signal.SIGTERM) == 0
    assert stored(db) == (count, count)


def test_the_engine_down_then_back_loses_and_duplicates_nothing(
    tmp_path: Path,
    collectors: list[Collector],
    closed_port: int,
    engine_url: str,
    engine_client: EngineClient,
    write_flows: WriteFlows,
) -> None:
    count, eve = 10_000, tmp_path / "eve.json"
    write_flows(eve, count)
    collector = Collector(tmp_path, eve, {})
    collectors.append(collector)
    collector.start(CITYSOC_EVENT_STORE=f"opensearch+http://127.0.0.1:{closed_port}")
    size = eve.stat().st_size
    wait_until(lambda: collector.committed_offset() == size, "the input to be buffered", collector)
    collector.kill(signal.SIGKILL)
    store = EngineEventStore(engine_client, refresh=True)
    assert store.count() == 0
    collector.start(CITYSOC_EVENT_STORE=engine_url)

    def delivered() -> bool:
        store.refresh()
        return store.count() >= count

    # The engine's node is a JVM on the same cores: on a loaded machine one bulk request may
    # time out (30 s) and be retried, so delivery is given three of those.
    wait_until(delivered, "delivery to the engine", collector, seconds=180)
    assert collector.kill(signal.SIGTERM) == 0
    store.refresh()
    assert store.count() == count, "each event stored once"
    streams = engine_client.request("GET", "/_data_stream/logs-*")["data_streams"]
    assert {s["name"].rsplit("-", 1)[0] for s in streams} == {"logs-suricata.eve"}
