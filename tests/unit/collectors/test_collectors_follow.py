"""Following a file into a shipper: batches parsed here, or handed over unparsed."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from citysoc.core.ecs import Event
from citysoc.core.errors import Location
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.raw_lines import RawLines
from collectors.delivery.shipper import Shipper
from collectors.sources.eve import PARSER, parse_eve_bytes
from collectors.sources.follow import follow_into
from collectors.sources.tail import FileTailer, Line
from collectors.stats import CollectorStats
from eventstore.sqlite import WriteResult


class NoSink:
    def write(self, events: Sequence[Event]) -> WriteResult:
        return WriteResult(inserted=len(events), duplicates=0, rejected=0)


class Recording(Shipper):
    """Wants every other batch as lines; stops the follower once the file is read."""

    def __init__(self, buffer: DiskBuffer, stop: threading.Event) -> None:
        super().__init__(enrich=lambda e: e, sink=NoSink(), buffer=buffer, stats=CollectorStats())
        self.stop = stop
        self.got: list[list[Event] | RawLines] = []

    def wants_lines(self) -> bool:
        return len(self.got) % 2 == 0

    def put(self, events: Sequence[Event]) -> None:
        self.got.append(list(events))

    def put_lines(self, lines: RawLines) -> None:
        self.got.append(lines)

    def tick(self) -> None:
        self.stop.set()


def eve_line(n: int) -> bytes:
    stamp = f"2026-11-20T02:00:{n:02d}.000000+0000"
    return f'{{"timestamp":"{stamp}","event_type":"flow","flow_id":{n}}}\n'.encode()


def test_batches_go_parsed_or_unparsed_with_each_line_placed(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    raw = [eve_line(1), eve_line(2), b"{broken\n", eve_line(3), eve_line(4)]
    path.write_bytes(b"".join(raw) + b'{"half')  # the last line is still being written
    stats, stop = CollectorStats(), threading.Event()

    def parse(line: Line) -> Event | None:
        where = Location(str(path), offset=line.start)
        if not line.complete:
            stats.error("eve-partial-line", where, "cut")
            return None
        return parse_eve_bytes(line.data, where, stats)

    with DiskBuffer(tmp_path / "buffer") as buffer:
        shipper = Recording(buffer, stop)
        follow_into(
            FileTailer(path, poll_seconds=0), parse, shipper, stop, batch_size=2, parser_name=PARSER
        )
    handed, parsed, last = shipper.got
    assert handed == RawLines(PARSER, str(path), 0, [raw[0][:-1], raw[1][:-1]], [0, len(raw[0])])
    assert isinstance(parsed, list) and len(parsed) == 1  # the broken line was counted here
    assert stats.errors["eve-not-json"] == 1
    assert isinstance(last, RawLines) and last.starts == [sum(map(len, raw[:4]))]
