"""The SQLite store gives back booleans, arrays and objects as they were written."""

from __future__ import annotations

from pathlib import Path

from citysoc.core.ecs import Event, event_id
from eventstore.sqlite import SqliteEventStore


def event(n: int, **fields: object) -> Event:
    return {"event.id": event_id("v", n), "@timestamp": f"2026-11-20T02:00:{n:02d}.000Z", **fields}


WRITTEN = [
    event(
        1,
        **{
            "event.category": ["authentication", "session"],
            "event.type": ["info"],
            "tls.resumed": True,
            "suricata.eve.flow.alerted": False,
            "related.ip": ["203.0.113.77"],
            "dns.answers": [{"type": "A", "data": "10.1.1.1", "ttl": 60}],
            "log.syslog.structured_data": {"origin": {"ip": "10.31.0.7"}},
            "citysoc.custom.list": ["a", "b"],
            "source.port": 1,
        },
    ),
]


def test_values_read_back_with_their_types(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventStore(path) as store:
        store.write(WRITTEN)
        got = store.get([WRITTEN[0]["event.id"]])[0]
    assert got == WRITTEN[0]
    assert got["tls.resumed"] is True and got["suricata.eve.flow.alerted"] is False
    assert got["source.port"] == 1 and got["source.port"] is not True
    with SqliteEventStore(path) as again:  # what a field held is remembered in the file
        assert again.recent(limit=1)[0] == WRITTEN[0]


def test_a_field_learnt_by_another_writer_reads_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventStore(path) as reader, SqliteEventStore(path) as writer:
        writer.write([event(2, **{"citysoc.flag": True, "citysoc.names": ["x", "y"]})])
        got = reader.recent(limit=1)[0]
    assert got["citysoc.flag"] is True and got["citysoc.names"] == ["x", "y"]


def test_ioc_sweeps_look_into_arrays() -> None:
    store = SqliteEventStore(Path(":memory:"))
    store.write(
        [
            event(3, **{"related.ip": ["10.0.0.1", "203.0.113.9"]}),
            event(4, **{"related.ip": ["203.0.113.9"]}),
            event(5, **{"related.ip": ["10.0.0.2"]}),
        ]
    )
    found = store.matching("related.ip", ["203.0.113.9"], after=0, upto=store.head())
    assert [e["event.id"] for e in found] == [event_id("v", 3), event_id("v", 4)]


def test_a_sweep_reads_only_the_fields_it_names() -> None:
    store = SqliteEventStore(Path(":memory:"))
    store.write([event(6, **{"related.ip": ["203.0.113.9"], "url.full": "http://x/" + "a" * 500})])
    whole = store.matching("related.ip", ["203.0.113.9"], after=0, upto=store.head())
    assert "url.full" in whole[0]
    (narrow,) = store.matching(
        "related.ip",
        ["203.0.113.9"],
        after=0,
        upto=store.head(),
        fields=("related.ip", "@timestamp", "no.such.field"),
    )
    assert set(narrow) == {"event.id", "related.ip", "@timestamp"}
    assert narrow["related.ip"] == ["203.0.113.9"] and narrow["event.id"] == whole[0]["event.id"]
