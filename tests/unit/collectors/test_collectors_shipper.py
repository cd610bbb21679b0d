"""The shipper: durable first, retried with backoff, backpressure when the buffer is full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pytest import MonkeyPatch

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from collectors.delivery import shipper as shipper_module
from collectors.delivery.buffer import DiskBuffer, FullPolicy
from collectors.delivery.raw_lines import RawLines
from collectors.delivery.shipper import BackgroundShipper, Shipper
from collectors.pipeline import ship
from collectors.stats import CollectorStats
from eventstore.base import Backoff
from eventstore.sqlite import WriteResult


class FlakySink:
    """Fails ``failures`` times, then stores; remembers ids like an idempotent store."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.ids: set[str] = set()
        self.calls = 0

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("store down")
        new = {e["event.id"] for e in events} - self.ids
        self.ids |= new
        return WriteResult(len(new), len(events) - len(new), 0)


def events(start: int, n: int) -> list[Event]:
    return [
        {"event.id": f"e{i}", "@timestamp": "2026-11-20T00:00:00.000Z"}
        for i in range(start, start + n)
    ]


def tag(event: Event) -> Event:
    event["organization.id"] = "dic"
    return event


def test_events_are_enriched_buffered_and_stored(tmp_path: Path) -> None:
    sink = FlakySink()
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = Shipper(enrich=tag, sink=sink, buffer=buffer, stats=CollectorStats())
        shipper.put(events(0, 5))
        assert sink.ids == {f"e{i}" for i in range(5)} and buffer.is_empty()
        assert shipper.report.stored == 5


def test_a_failing_sink_keeps_events_buffered_until_it_is_back(tmp_path: Path) -> None:
    sink, pauses = FlakySink(failures=3), []
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = Shipper(
            enrich=tag,
            sink=sink,
            buffer=buffer,
            stats=CollectorStats(),
            sleep=pauses.append,
            backoff=Backoff(initial=0.0, maximum=0.0),
        )
        shipper.put(events(0, 5))
        assert not sink.ids and not buffer.is_empty()
        assert shipper.flush(timeout=5)
        assert sink.ids == {f"e{i}" for i in range(5)}
        assert shipper.report.sink_failures == 3


def test_backoff_grows_exponentially_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_full_buffer_under_block_makes_the_source_wait(tmp_path: Path) -> None:
    sink, pauses = FlakySink(failures=4), []
    with DiskBuffer(tmp_path / "b", max_bytes=400, policy=FullPolicy.BLOCK) as buffer:
        shipper = Shipper(
            enrich=tag, sink=sink, buffer=buffer, stats=CollectorStats(), sleep=pauses.append
        )
        for start in range(0, 30, 5):
            shipper.put(events(start, 5))
        shipper.flush(timeout=5)
    assert pauses, "the source never waited for the sink"
    assert sink.ids == {f"e{i}" for i in range(30)}


def test_full_buffer_under_drop_oldest_counts_what_it_drops(tmp_path: Path) -> None:
    sink, stats = FlakySink(failures=1000), CollectorStats()
    with DiskBuffer(tmp_path / "b", max_bytes=400, policy=FullPolicy.DROP_OLDEST) as buffer:
        shipper = Shipper(enrich=tag, sink=sink, buffer=buffer, stats=stats, sleep=lambda _s: None)
        for start in range(0, 30, 5):
            shipper.put(events(start, 5))
        sink.failures = 0
        shipper.flush(timeout=5)
    assert stats.dropped["buffer-full"] > 0
    assert len(sink.ids) + stats.dropped["buffer-full"] == 30


def test_ship_keeps_its_signature_and_takes_a_buffer(tmp_path: Path) -> None:
    direct = ship(
        iter(events(0, 7)), enrich=tag, sink=FlakySink(), stats=CollectorStats(), batch_size=3
    )
    assert direct.stored == 7
    sink = FlakySink()
    with DiskBuffer(tmp_path / "b") as buffer:
        report = ship(iter(events(0, 7)), enrich=tag, sink=sink, stats=CollectorStats(),
                      batch_size=3, buffer=buffer)  # fmt: skip
    assert report.stored == 7 and len(sink.ids) == 7


def test_background_delivery_does_not_stall_the_source_while_the_sink_is_down(
    tmp_path: Path,
) -> None:
    sink = FlakySink(failures=3)
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = BackgroundShipper(
            enrich=tag, sink=sink, buffer=buffer, stats=CollectorStats(),
            backoff=Backoff(initial=0.01, maximum=0.05),
        )  # fmt: skip
        try:
            for start in range(0, 50, 5):
                shipper.put(events(start, 5))
            assert shipper.flush(timeout=10)
        finally:
            report = shipper.close()
    assert sink.ids == {f"e{i}" for i in range(50)}
    assert report.sink_failures == 3 and report.stored == 50


def eve_line(n: int) -> bytes:
    record = {
        "timestamp": f"2026-11-20T02:00:{n % 60:02d}.000000+0000",
        "event_type": "flow",
        "flow_id": n,
        "src_ip": "10.20.0.10",
        "dest_ip": "10.10.0.20",
        "flow": {"pkts_toserver": 1, "pkts_toclient": 1},
    }
    return json.dumps(record).encode() + b"\n"


def test_lines_handed_over_unparsed_are_parsed_once_by_whoever_delivers(tmp_path: Path) -> None:
    sink, stats = FlakySink(failures=2), CollectorStats()
    lines = RawLines("suricata.eve", "eve.json", 7, [eve_line(1), b"{broken\n", eve_line(2)])
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = Shipper(enrich=tag, sink=sink, buffer=buffer, stats=stats, sleep=lambda _: None)
        assert not shipper.wants_lines()  # only a delivery process of its own has time
        shipper.put_lines(lines)
        assert shipper.flush(timeout=5)
    assert shipper.report.stored == 2 and sink.calls == 3
    assert (stats.received, stats.parsed, dict(stats.errors)) == (3, 2, {"eve-not-json": 1})


def test_batches_waiting_together_go_to_the_sink_in_one_write(tmp_path: Path) -> None:
    sink = FlakySink(failures=1)
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = Shipper(enrich=tag, sink=sink, buffer=buffer, stats=CollectorStats())
        for start in range(0, 50, 10):
            shipper.put(events(start, 10))  # the sink is down at first: all five wait
        assert sink.calls == 1 and not buffer.is_empty()
        shipper._retry_at = 0.0
        assert shipper.deliver()
        assert sink.calls == 2 and len(sink.ids) == 50 and buffer.is_empty()


def test_one_write_takes_at_most_write_events(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(shipper_module, "WRITE_EVENTS", 25)
    sink = FlakySink(failures=1)
    with DiskBuffer(tmp_path / "b") as buffer:
        shipper = Shipper(enrich=tag, sink=sink, buffer=buffer, stats=CollectorStats())
        for start in range(0, 50, 10):
            shipper.put(events(start, 10))
        shipper._retry_at = 0.0
        assert shipper.deliver()
    assert sink.calls == 1 + 2 and len(sink.ids) == 50  # 30 events, then 20
