"""The disk buffer: durable batches, acknowledged position, bounds and crash recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysoc.core.errors import CollectorError
from collectors.delivery.buffer import BufferFullError, DiskBuffer, FullPolicy


def batch(start: int, n: int = 3) -> list[dict[str, object]]:
    return [{"event.id": f"e{i}", "message": f"{i:03d}{'x' * 50}"} for i in range(start, start + n)]


def drain(buffer: DiskBuffer) -> list[str]:
    ids = []
    while (b := buffer.peek()) is not None:
        ids += [e["event.id"] for e in b.events]
        buffer.ack(b)
    return ids


def test_batches_come_back_in_order_and_ack_empties(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b") as buffer:
        buffer.append(batch(0))
        buffer.append(batch(3))
        assert drain(buffer) == [f"e{i}" for i in range(6)]
        assert buffer.is_empty() and buffer.peek() is None


def test_unacknowledged_batches_survive_a_restart(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "b")
    buffer.append(batch(0))
    buffer.append(batch(3))
    first = buffer.peek()
    assert first is not None
    buffer.ack(first)
    buffer.close()  # as if killed: nothing else is written at exit
    with DiskBuffer(tmp_path / "b") as again:
        assert drain(again) == ["e3", "e4", "e5"]


def test_a_half_written_record_is_cut_off_at_start(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b") as buffer:
        buffer.append(batch(0))
    segment = next((tmp_path / "b").glob("segment-*.log"))
    with segment.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00garbage")  # header of a record the crash cut short
    with DiskBuffer(tmp_path / "b") as buffer:
        assert drain(buffer) == ["e0", "e1", "e2"]
        buffer.append(batch(10, 1))
        assert drain(buffer) == ["e10"]


def test_a_corrupt_record_is_counted_and_skipped(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b", segment_bytes=1) as buffer:
        buffer.append(batch(0))
        buffer.append(batch(3))  # second segment
    first = sorted((tmp_path / "b").glob("segment-*.log"))[0]
    data = bytearray(first.read_bytes())
    data[20] ^= 0xFF
    first.write_bytes(bytes(data))
    with DiskBuffer(tmp_path / "b") as buffer:
        assert drain(buffer) == ["e3", "e4", "e5"]
        assert buffer.corrupt_records == 1


def test_block_policy_refuses_when_full(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b", max_bytes=500, policy=FullPolicy.BLOCK) as buffer:
        buffer.append(batch(0))
        with pytest.raises(BufferFullError):
            buffer.append(batch(3, 5))
        assert drain(buffer) == ["e0", "e1", "e2"]
        buffer.append(batch(3, 5))  # room again once delivered
        assert buffer.dropped_events == 0


def test_drop_oldest_policy_makes_room_and_counts(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b", max_bytes=700, policy=FullPolicy.DROP_OLDEST) as buffer:
        for start in range(0, 12, 3):
            buffer.append(batch(start))
        assert buffer.dropped_events > 0
        kept = drain(buffer)
        assert kept[-1] == "e11" and len(kept) + buffer.dropped_events == 12


def test_segments_roll_over_and_are_deleted_when_delivered(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b", segment_bytes=300) as buffer:
        for start in range(0, 30, 3):
            buffer.append(batch(start))
        assert len(list((tmp_path / "b").glob("segment-*.log"))) > 2
        assert len(drain(buffer)) == 30
        assert len(list((tmp_path / "b").glob("segment-*.log"))) <= 1


def test_a_second_collector_cannot_share_the_buffer(tmp_path: Path) -> None:
    with DiskBuffer(tmp_path / "b"), pytest.raises(CollectorError, match="in use"):
        DiskBuffer(tmp_path / "b")


def test_reading_ahead_crosses_segments_and_stops_short_of_a_corrupt_record(
    tmp_path: Path,
) -> None:
    with DiskBuffer(tmp_path / "b", segment_bytes=300) as buffer:
        for start in range(0, 12, 3):
            buffer.append(batch(start))
        first = buffer.peek()
        assert first is not None
        seen, at = [first], first
        while (after := buffer.peek_after(at)) is not None:
            seen.append(after)
            at = after
        assert [e["event.id"] for b in seen for e in b.events] == [f"e{i}" for i in range(12)]
        assert len({b.segment for b in seen}) > 1  # it read past the first segment
        buffer._cache.clear()
        second = seen[1]
        with buffer._path(second.segment).open("r+b") as handle:
            handle.seek(second.offset + 20)
            handle.write(b"garbage")
        assert buffer.peek_after(first) is None  # only peek deals with a corrupt record
        assert buffer.corrupt_records == 0 and buffer.peek() == first
