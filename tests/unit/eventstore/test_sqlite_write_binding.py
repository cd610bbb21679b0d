"""Lists and mappings of fields known to hold them are made storable before the first attempt;
a value the store did not expect still makes the batch be written again, converted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eventstore.sqlite
from citysoc.core.ecs import Event, event_id
from eventstore.sqlite import SqliteEventStore


def event(n: int, **fields: object) -> Event:
    return {"event.id": event_id("b", n), "@timestamp": f"2026-11-20T02:00:{n:02d}.000Z", **fields}


def test_known_arrays_and_objects_bind_at_the_first_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(row: object) -> object:
        raise AssertionError(f"the whole batch was converted again: {row!r}")

    monkeypatch.setattr(eventstore.sqlite, "_stored", refused)
    store = SqliteEventStore(Path(":memory:"))
    written = [
        event(1, **{"related.ip": ["10.0.0.1", "203.0.113.9"], "source.ip": "10.0.0.1"}),
        event(2, **{"related.ip": ["10.0.0.2"], "source.ip": "10.0.0.2"}),
        event(3, **{"dns.answers": [{"data": "10.1.1.1"}], "citysoc.new": {"a": 1}}),
        event(4, **{"dns.answers": [{"data": "10.1.1.2"}], "citysoc.new": {"a": 2}}),
    ]
    result = store.write(written)
    assert result.inserted == 4
    assert store.get([e["event.id"] for e in written]) == written


def test_a_list_where_the_store_expected_a_value_is_still_stored() -> None:
    store = SqliteEventStore(Path(":memory:"))
    written = [
        event(1, **{"citysoc.later": "one"}),  # the field's first value in the batch: a text
        event(2, **{"citysoc.later": ["x", "y"]}),
    ]
    assert store.write(written).inserted == 2
    rows = store.conn.execute('SELECT "citysoc.later" FROM events ORDER BY seq').fetchall()
    assert rows[0] == ("one",) and json.loads(rows[1][0]) == ["x", "y"]  # JSON text
