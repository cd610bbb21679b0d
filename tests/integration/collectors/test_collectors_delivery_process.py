"""``citysoc collect eve FILE`` delivers from a second process: kill -9 either, lose nothing.

The reading process stores the batches it parses itself, or appends them to the disk buffer
when the store refuses them, and announces what it has fsynced; a spawned process delivers
that, and parses and stores the lines it is handed. Killing the reader leaves the rest for the
next run; killing the deliverer makes the reader deliver the rest itself. Either way every
event of the file is stored exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors.delivery.buffer_roles import AppendingBuffer
from collectors.delivery.process import ProcessShipper
from collectors.delivery.sinks import Sink, SinkSpec, SqliteSink, open_sink
from collectors.enrich import enricher_for
from collectors.sources.eve import parse_lines, read_eve_lines
from collectors.stats import CollectorStats
from eventstore.base import WriteResult
from eventstore.sqlite import SqliteEventStore

Stored = Callable[[Path], tuple[int, int]]
WriteFlows = Callable[[Path, int], None]
REPO = Path(__file__).resolve().parents[3]
COUNT = 60_000
needs_proc_children = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc/<pid>/task/<pid>/children to find the delivery process",
)


@pytest.fixture
def run(tmp_path: Path, write_flows: WriteFlows) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    eve = tmp_path / "eve.json"
    write_flows(eve, COUNT)
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var")}

    def start() -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", str(eve)]
        log = (tmp_path / "collector.log").open("ab")
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def wait_until(check: Callable[[], bool], what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def segments_left(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "var" / "buffer").glob("*/segment-*.log"))


def deliverer_of(pid: int) -> int | None:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            return int(child)
    return None


def test_kill_9_of_the_reader_then_a_new_run_stores_every_event_once(
    tmp_path: Path,
    run: Callable[[], subprocess.Popen[bytes]],
    stored: Stored,
) -> None:
    db, log = tmp_path / "var" / "events.db", tmp_path / "collector.log"
    reader = run()
    wait_until(lambda: stored(db)[0] >= 2_000, "the first events", log)
    reader.send_signal(signal.SIGKILL)
    reader.wait(timeout=30)
    assert 0 < stored(db)[0] < COUNT, "the reader was not killed in the middle of the file"
    assert run().wait(timeout=120) == 0
    assert stored(db) == (COUNT, COUNT)
    assert segments_left(tmp_path) == []


@needs_proc_children
def test_kill_9_of_the_deliverer_makes_the_reader_deliver_every_event_once(
    tmp_path: Path,
    run: Callable[[], subprocess.Popen[bytes]],
    stored: Stored,
) -> None:
    db, log = tmp_path / "var" / "events.db", tmp_path / "collector.log"
    reader = run()
    wait_until(lambda: stored(db)[0] >= 2_000, "the first events", log)
    deliverer = deliverer_of(reader.pid)
    assert deliverer is not None, "no delivery process found"
    os.kill(deliverer, signal.SIGKILL)
    killed_at = stored(db)[0]
    assert reader.wait(timeout=120) == 0
    assert 0 < killed_at < COUNT, "the deliverer was not killed in the middle of the file"
    assert "the delivery process is gone" in log.read_text()
    assert stored(db) == (COUNT, COUNT)


def test_lines_handed_over_are_parsed_in_the_delivery_process(
    tmp_path: Path, stored: Stored, write_flows: WriteFlows
) -> None:
    eve = tmp_path / "eve.json"
    write_flows(eve, 5_000)
    with eve.open("r+b") as handle:  # line 3 becomes broken JSON of the same length
        first, second = handle.readline(), handle.readline()
        handle.seek(len(first) + len(second))
        handle.write(b"[")
    stats, db = CollectorStats(), tmp_path / "events.db"
    with SqliteEventStore(db) as store, AppendingBuffer(tmp_path / "buffer") as buffer:
        shipper = ProcessShipper(
            make_enrich=partial(enricher_for, BUNDLED_TOPOLOGY, "dic"),
            sink=SqliteSink(store),
            buffer=buffer,
            stats=stats,
            open_sink=partial(open_sink, SinkSpec("sqlite", store_path=db)),
        )
        assert shipper.wants_lines()  # nothing left to deliver: it has time
        for lines in read_eve_lines(eve, stats, batch_lines=1_000):
            shipper.put_lines(lines)
        assert shipper.flush(timeout=60)
        report = shipper.close()
    assert report.stored == 4_999 and stored(db) == (4_999, 4_999)
    assert (stats.received, stats.parsed, dict(stats.errors)) == (5_000, 4_999, {"eve-not-json": 1})


def test_the_cli_counts_bad_lines_wherever_they_were_parsed(
    tmp_path: Path, run: Callable[[], subprocess.Popen[bytes]]
) -> None:
    eve, log = tmp_path / "eve.json", tmp_path / "collector.log"
    lines = eve.read_bytes().splitlines(keepends=True)
    bad = [5, 20_001, COUNT]  # line numbers
    for number in bad:
        lines[number - 1] = b"not json\n"
    eve.write_bytes(b"".join(lines))
    assert run().wait(timeout=120) == 0
    summary = json.loads(log.read_text().strip().splitlines()[-1].split(": ", 1)[1])
    assert (summary["received"], summary["parsed"], summary["stored"]) == (
        COUNT, COUNT - 3, COUNT - 3,
    )  # fmt: skip
    assert summary["errors"] == {"eve-not-json": 3}
    for number in bad:
        assert f"eve.json, line {number}: eve-not-json" in log.read_text()
    assert segments_left(tmp_path) == []  # everything delivered: nothing stays on disk


class DownSink:
    """The reading process's sink while the store is out of reach."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.attempts += 1
        raise StoreError("event store write failed: database is locked")


def shipper_for(
    tmp_path: Path, sink: Sink, stats: CollectorStats, buffer: AppendingBuffer
) -> ProcessShipper:
    return ProcessShipper(
        make_enrich=partial(enricher_for, BUNDLED_TOPOLOGY, "dic"),
        sink=sink,
        buffer=buffer,
        stats=stats,
        open_sink=partial(open_sink, SinkSpec("sqlite", store_path=tmp_path / "events.db")),
    )


def parsed_batches(
    tmp_path: Path, write_flows: WriteFlows, stats: CollectorStats, count: int
) -> list[list[Event]]:
    eve = tmp_path / "eve.json"
    write_flows(eve, count)
    return [parse_lines(lines, stats) for lines in read_eve_lines(eve, stats, batch_lines=1_000)]


def test_batches_the_reader_parses_it_stores_itself_without_the_buffer(
    tmp_path: Path, stored: Stored, write_flows: WriteFlows
) -> None:
    stats, db = CollectorStats(), tmp_path / "events.db"
    batches = parsed_batches(tmp_path, write_flows, stats, 5_000)
    with SqliteEventStore(db) as store, AppendingBuffer(tmp_path / "buffer") as buffer:
        shipper = shipper_for(tmp_path, SqliteSink(store), stats, buffer)
        for batch in batches:
            shipper.put(batch)
            assert buffer.committed()[1] == 0  # stored at once: nothing was buffered
        assert stored(db) == (5_000, 5_000)
        shipper.put(batches[0])  # again: the store keeps one of each
        assert shipper.flush(timeout=60)
        report = shipper.close()
    assert (report.stored, report.duplicates, report.sink_failures) == (5_000, 1_000, 0)


def test_what_the_sink_refuses_the_reader_buffers_for_the_delivery_process(
    tmp_path: Path, stored: Stored, write_flows: WriteFlows
) -> None:
    stats, db, down = CollectorStats(), tmp_path / "events.db", DownSink()
    batches = parsed_batches(tmp_path, write_flows, stats, 5_000)
    with AppendingBuffer(tmp_path / "buffer") as buffer:
        shipper = shipper_for(tmp_path, down, stats, buffer)
        for batch in batches:
            shipper.put(batch)
        assert 1 <= down.attempts < len(batches)  # it waits for the backoff, buffering meanwhile
        assert buffer.committed()[1] > 0
        assert shipper.flush(timeout=60)  # the delivery process reaches the store
        report = shipper.close()
    assert stored(db) == (5_000, 5_000)
    assert (report.stored, report.duplicates, report.sink_failures) == (5_000, 0, down.attempts)


def test_following_a_file_counts_bad_lines_by_offset_wherever_they_were_parsed(
    tmp_path: Path, stored: Stored, write_flows: WriteFlows
) -> None:
    eve, log_path = tmp_path / "eve.json", tmp_path / "collector.log"
    write_flows(eve, COUNT)
    lines = eve.read_bytes().splitlines(keepends=True)
    bad = (5, 20_001, COUNT)
    for number in bad:
        lines[number - 1] = b"not json\n"
    eve.write_bytes(b"".join(lines))
    offsets = [sum(map(len, lines[: number - 1])) for number in bad]
    db = tmp_path / "var" / "events.db"
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", "--follow", str(eve)]
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var")}
    with log_path.open("wb") as log:
        follower = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            wait_until(lambda: stored(db)[0] >= COUNT - 3, "every good line", log_path)
        finally:
            follower.send_signal(signal.SIGTERM)
            assert follower.wait(timeout=60) == 0
    output = log_path.read_text()
    summary = json.loads(output.strip().splitlines()[-1].split(": ", 1)[1])
    assert (summary["received"], summary["parsed"], summary["stored"]) == (
        COUNT, COUNT - 3, COUNT - 3,
    )  # fmt: skip
    assert summary["errors"] == {"eve-not-json": 3}
    for offset in offsets:
        assert f"eve.json, byte {offset}: eve-not-json" in output
    assert stored(db) == (COUNT - 3, COUNT - 3)
