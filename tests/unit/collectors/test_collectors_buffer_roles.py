"""The disk buffer shared by two sides: the appender announces, the deliverer acknowledges."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from collectors.delivery.buffer_roles import AppendingBuffer, DeliveringBuffer, SinkTurns
from collectors.delivery.sinks import SqliteSink, StoreSink, takes_turns
from eventstore.engine.client import open_client
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore
from eventstore.sqlite import SqliteEventStore


def events(first: int, count: int = 3) -> list[dict[str, object]]:
    return [{"event.id": str(n), "n": n} for n in range(first, first + count)]


def drain(buffer: DeliveringBuffer) -> list[object]:
    seen: list[object] = []
    while (batch := buffer.peek()) is not None:
        seen += [e["n"] for e in batch.events]
        buffer.ack(batch)
    return seen


def test_the_deliverer_reads_only_what_was_announced(tmp_path: Path) -> None:
    appender = AppendingBuffer(tmp_path)
    appender.append(events(0))
    deliverer = DeliveringBuffer(tmp_path, start=appender.committed())
    appender.append(events(3))  # written, not yet announced
    assert drain(deliverer) == [0, 1, 2] and deliverer.caught_up()
    deliverer.announce(appender.committed())
    assert not deliverer.caught_up()
    assert drain(deliverer) == [3, 4, 5] and deliverer.caught_up()
    assert appender.pending_bytes == 0  # the appender reads the deliverer's position
    appender.close()
    deliverer.close()


def test_delivered_segments_go_once_the_appender_has_moved_on(tmp_path: Path) -> None:
    appender = AppendingBuffer(tmp_path, segment_bytes=1)  # one record per segment
    for first in (0, 3, 6):
        appender.append(events(first))
    deliverer = DeliveringBuffer(tmp_path, start=appender.committed())
    assert drain(deliverer) == list(range(9))
    assert sorted(p.name for p in tmp_path.glob("segment-*")) == ["segment-000000000002.log"]
    appender.append(events(9))  # the appender goes on with its newest segment
    deliverer.announce(appender.committed())
    assert drain(deliverer) == [9, 10, 11]
    appender.close()
    deliverer.close()


def test_the_appender_takes_delivery_over_from_the_acknowledged_position(tmp_path: Path) -> None:
    appender = AppendingBuffer(tmp_path)
    for first in (0, 3):
        appender.append(events(first))
    deliverer = DeliveringBuffer(tmp_path, start=appender.committed())
    batch = deliverer.peek()
    assert batch is not None
    deliverer.ack(batch)
    deliverer.close()  # the delivery process is gone
    lock = appender.take_over()
    batch = appender.peek()
    assert batch is not None and [e["n"] for e in batch.events] == [3, 4, 5]
    appender.ack(batch)
    assert appender.peek() is None and appender.is_empty()
    lock.close()
    appender.close()


def test_a_record_cut_short_after_the_announced_end_is_never_read(tmp_path: Path) -> None:
    appender = AppendingBuffer(tmp_path)
    appender.append(events(0))
    end = appender.committed()
    segment = next(tmp_path.glob("segment-*"))
    with segment.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00half a record")  # as if being written right now
    deliverer = DeliveringBuffer(tmp_path, start=end)
    assert drain(deliverer) == [0, 1, 2]
    assert deliverer.corrupt_records == 0
    appender.close()
    deliverer.close()


def test_sink_turns_let_one_writer_at_a_time(tmp_path: Path) -> None:
    first, second = SinkTurns(tmp_path), SinkTurns(tmp_path)  # two open files: as two processes
    order: list[str] = []
    waiting = threading.Event()

    def other() -> None:
        waiting.set()
        with second.turn():
            order.append("second writes")

    with first.turn():
        thread = threading.Thread(target=other)
        thread.start()
        assert waiting.wait(5)
        time.sleep(0.2)  # the other side is blocked in flock by now
        order.append("first writes")
    thread.join(5)
    assert order == ["first writes", "second writes"]
    first.close()
    second.close()


def test_a_sink_that_takes_concurrent_writes_is_not_waited_for(tmp_path: Path) -> None:
    holder, other = SinkTurns(tmp_path), SinkTurns(tmp_path, needed=False)
    wrote = threading.Event()

    def write() -> None:
        with other.turn():
            wrote.set()

    with holder.turn():
        threading.Thread(target=write, daemon=True).start()
        assert wrote.wait(5), "it waited for a turn it does not need"
    store = SqliteEventStore(tmp_path / "events.db")
    engine = StoreSink(
        EngineEventStore(open_client(parse_engine_url("opensearch+http://127.0.0.1:9")))
    )
    assert takes_turns(SqliteSink(store)) and not takes_turns(engine)
    store.close()
    holder.close()
    other.close()
