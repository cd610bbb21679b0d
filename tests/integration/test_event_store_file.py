"""The SQLite event store on a real file: a reader sees a writer's events (WAL), reopening
keeps them, a second writer process duplicates nothing, and rows grouped as the disk buffer
holds them are stored as their events would be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from citysoc.core.ecs import event_id
from citysoc.core.errors import StoreError
from collectors.delivery.buffer_codec import EventGroups
from eventstore.base import WriteResult
from eventstore.sqlite import SqliteEventStore, connect

pytestmark = pytest.mark.integration


def events(n: int) -> list[dict[str, object]]:
    return [
        {"event.id": event_id("f", i), "@timestamp": "2026-11-20T02:00:00.000Z", "x.n": i}
        for i in range(n)
    ]


def test_reader_connection_sees_writes_and_reopen_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventStore(path) as store:
        store.write(events(100))
        reader = connect(path, readonly=True)
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 100
        reader.close()
    with SqliteEventStore(path) as store:
        assert store.count() == 100
        assert store.get([event_id("f", 7)])[0]["x.n"] == 7


def test_another_process_writing_the_same_events_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventStore(path) as store:
        store.write(events(50))
    code = (
        "import sys; from pathlib import Path; from eventstore.sqlite import SqliteEventStore;"
        "from citysoc.core.ecs import event_id;"
        "s = SqliteEventStore(Path(sys.argv[1]));"
        "r = s.write([{'event.id': event_id('f', i), '@timestamp': '2026-11-20T02:00:00.000Z',"
        " 'x.n': i} for i in range(80)]); print(r.inserted, r.duplicates)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.stdout.split() == ["30", "50"], out.stderr


def test_grouped_rows_are_stored_as_the_same_events_would_be(tmp_path: Path) -> None:
    batch = [
        *events(3),
        {"event.id": "", "@timestamp": "2026-11-20T02:00:00.000Z", "x.n": 9},  # no id
        {"@timestamp": "2026-11-20T02:00:00.000Z", "x.n": 10},  # no id field at all
        {"event.id": "l", "@timestamp": "2026-11-20T02:00:00.000Z", "x.l": [1, 2], "x.z": None},
        {"event.id": "b", "@timestamp": "2026-11-20T02:00:00.000Z", "bad name!": 1, "x.n": 4},
    ]
    results, rows = [], []
    for name, write in (("events", "write"), ("groups", "write_groups")):
        with SqliteEventStore(tmp_path / f"{name}.db") as store:
            given = EventGroups.of(batch).groups if write == "write_groups" else batch
            results.append(getattr(store, write)(given))
            rows.append(sorted(map(repr, store.recent(limit=10))))
    assert results[0] == results[1] == WriteResult(inserted=5, duplicates=0, rejected=2)
    assert rows[0] == rows[1]
    assert "'x.l': [1, 2]" in " ".join(rows[1])  # an array reads back as one


def test_a_value_sqlite_cannot_bind_fails_clearly(tmp_path: Path) -> None:
    with SqliteEventStore(tmp_path / "e.db") as store:
        bad = {"event.id": "p", "@timestamp": "2026-11-20T02:00:00.000Z", "x.p": Path("/x")}
        with pytest.raises(StoreError, match="binding parameter"):
            store.write([bad])
        with pytest.raises(StoreError, match="binding parameter"):
            store.write_groups([(tuple(bad), [tuple(bad.values())])])
        assert store.write(events(2)).inserted == 2  # the store is still usable
