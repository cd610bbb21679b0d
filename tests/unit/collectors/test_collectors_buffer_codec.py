"""The disk buffer's record format: grouped format 3; formats 2 and 1 read; unknown refused."""

from __future__ import annotations

import json
import marshal
import struct
import zlib
from enum import StrEnum
from pathlib import Path

import pytest

from citysoc.core.errors import CollectorError
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.buffer_codec import (
    EventGroups,
    UnknownFormatError,
    decode_batch,
    encode_batch,
    encode_lines,
)
from collectors.delivery.raw_lines import RawLines


class Level(StrEnum):
    HIGH = "high"


def test_plain_events_round_trip_exactly() -> None:
    events = [{"event.id": "a", "n": 3, "x": 1.5, "ok": True, "s": "é"}, {"event.id": "b"}]
    payload = encode_batch(events)
    assert payload[0] == 3
    assert decode_batch(payload) == events


def test_events_are_grouped_by_field_set_and_read_back_in_order() -> None:
    events = [{"event.id": str(n), "a" if n % 2 else "b": n} for n in range(6)]
    decoded = decode_batch(encode_batch(events))
    assert isinstance(decoded, EventGroups)
    assert [names for names, _ in decoded.groups] == [("event.id", "b"), ("event.id", "a")]
    assert [len(rows) for _, rows in decoded.groups] == [3, 3]
    assert list(decoded) == events and decoded[1] == events[1] and len(decoded) == 6


def test_many_field_sets_keep_their_order() -> None:
    events = [{"event.id": str(n), f"f{n}": n} for n in range(300)]
    assert decode_batch(encode_batch(events)) == events


def test_format_2_records_are_still_read() -> None:
    events = [{"event.id": "a", "n": 3}]
    payload = bytes((2, marshal.version)) + marshal.dumps(events)
    assert decode_batch(payload) == events


def test_unusual_values_read_back_as_json_gave_them() -> None:
    events = [{"event.id": "a", "l": (1, 2), "level": Level.HIGH, "d": {"k": [1]}, "p": Path("/x")}]
    expected = json.loads(json.dumps(events, default=str))
    decoded = decode_batch(encode_batch(events))
    assert decoded == expected
    assert decoded is not None and type(decoded[0]["level"]) is str


def test_format_1_json_records_are_still_read() -> None:
    assert decode_batch(b'[{"event.id":"a"}]') == [{"event.id": "a"}]


def test_garbage_in_a_known_format_is_not_an_event_batch() -> None:
    assert decode_batch(b"\x02\x04\xff\xff") is None
    assert decode_batch(bytes((3, marshal.version)) + marshal.dumps([1, 2, 3])) is None
    assert decode_batch(b"[not json") is None
    assert decode_batch(b"") is None


def test_an_unknown_format_is_refused_clearly() -> None:
    with pytest.raises(UnknownFormatError, match="unknown format 9"):
        decode_batch(b"\x09anything")
    with pytest.raises(UnknownFormatError, match="marshal version 200"):
        decode_batch(b"\x02\xc8data")
    with pytest.raises(UnknownFormatError, match="marshal version 200"):
        decode_batch(b"\x03\xc8data")


def write_record(folder: Path, payload: bytes, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = struct.pack("<III", len(payload), zlib.crc32(payload), count)
    with (folder / f"segment-{0:012d}.log").open("ab") as handle:
        handle.write(header + payload)


def test_a_buffer_left_by_an_older_collector_is_delivered(tmp_path: Path) -> None:
    write_record(tmp_path / "b", b'[{"event.id":"old"}]', 1)
    with DiskBuffer(tmp_path / "b") as buffer:
        buffer.append([{"event.id": "new"}])
        first = buffer.peek()
        assert first is not None and first.events == [{"event.id": "old"}]
        buffer.ack(first)
        second = buffer.peek()
        assert second is not None and second.events == [{"event.id": "new"}]


def test_a_record_from_a_newer_format_stops_delivery_and_stays(tmp_path: Path) -> None:
    write_record(tmp_path / "b", b"\x07future", 1)
    with DiskBuffer(tmp_path / "b") as buffer:
        with pytest.raises(CollectorError, match="unknown format 7"):
            buffer.peek()
        assert buffer.pending_bytes > 0 and buffer.corrupt_records == 0


def test_lines_not_yet_parsed_round_trip_as_lines() -> None:
    lines = RawLines("suricata.eve", "/var/log/eve.json", 4001, [b'{"a":1}\n', b"\xff\n"])
    payload = encode_lines(lines)
    assert payload[0] == 4 and decode_batch(payload) == lines
    assert decode_batch(bytes((4, marshal.version)) + marshal.dumps((1, 2, 3, 4))) is None


def test_batches_are_joined_in_order() -> None:
    first = [{"event.id": "a", "x": 1}, {"event.id": "b"}]
    second = [{"event.id": "c"}, {"event.id": "d", "x": 2}]
    joined = EventGroups.join([EventGroups.of(first), second])
    assert list(joined) == first + second and len(joined.groups) == 4


def test_lines_placed_by_offsets_round_trip_with_their_offsets() -> None:
    lines = RawLines("suricata.eve", "/var/log/eve.json", 0, [b'{"a":1}', b"\xff"], [0, 8])
    payload = encode_lines(lines)
    assert payload[0] == 5 and decode_batch(payload) == lines
    uneven = marshal.dumps(("suricata.eve", "eve.json", [0], [b"a", b"b"]))
    assert decode_batch(bytes((5, marshal.version)) + uneven) is None
