"""The embedded store's address index (``eventstore.addresses``): searches by address read the
index and give what a scan of every event gives, however far the index has been caught up;
events stored since, by any writer, are found; a store made before the index has it filled
by its first searches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from citysoc.core.query import compile_query, event_schema
from citysoc.core.query.tree import Condition, Not
from eventstore import addresses, query_sqlite
from eventstore.sqlite import TABLE, SqliteEventStore


def event(n: int, agency: str, **fields: object) -> Event:
    return {
        "event.id": f"a{n:03d}",
        "@timestamp": f"2026-11-20T00:{n // 60:02d}:{n % 60:02d}.000Z",
        "organization.id": agency,
        **{k.replace("__", "."): v for k, v in fields.items()},
    }


EVENTS: list[Event] = [
    event(1, "d1", source__ip="203.0.113.7", destination__ip="10.31.0.21"),
    event(2, "d1", source__ip="10.31.0.21", destination__ip="203.0.113.7",
          related__ip=["10.31.0.21", "203.0.113.7"]),
    event(3, "tanbinh", source__ip="2001:DB8::5", destination__ip="10.32.0.9"),
    event(4, "tanbinh", related__ip=["198.51.100.4", "2001:db8::5"]),
    event(5, "dc", related__ip="198.51.100.4", user__name="root"),
    event(6, "dc", source__ip="10.10.0.5", destination__ip="10.31.0.21", user__name="root"),
    event(7, "ioc", source__ip="[not json", destination__ip="10.20.0.1"),
]  # fmt: skip

QUERIES = [
    "source.ip:203.0.113.7",
    "destination.ip:10.31.0.21",
    "related.ip:203.0.113.7",
    "source.ip:203.0.113.7 OR destination.ip:203.0.113.7 OR related.ip:203.0.113.7",
    "source.ip:2001:db8::5",
    "related.ip:2001:db8::5 OR source.ip:2001:db8::5",
    "related.ip:198.51.100.4",
    "destination.ip:10.31.0.21 AND user.name:root",
    "destination.ip:10.31.0.21 AND NOT organization.id:d1",
    "source.ip:203.0.113.7 OR destination.ip:10.32.0.9",
    "source.ip:192.0.2.99",
]


def scan(store: SqliteEventStore, condition: Condition | None) -> tuple[int, list[str], list]:
    """The same search read from every event: ``NOT NOT`` means the same and narrows nothing."""
    page = store.find(Not(Not(condition)) if condition else None, limit=100)
    return page.total, [str(e["event.id"]) for e in page.events], store.seen_by(Not(Not(condition)))  # type: ignore[arg-type]


@pytest.fixture(params=["caught up", "not indexed"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> SqliteEventStore:
    made = SqliteEventStore(tmp_path / "events.db")
    made.write(EVENTS[:4])
    if request.param == "caught up":
        made.index_addresses()
    made.write(EVENTS[4:])  # stored after the index was last caught up
    return made


@pytest.mark.parametrize("query", QUERIES)
def test_a_search_by_address_gives_what_a_scan_gives(store: SqliteEventStore, query: str) -> None:
    condition = compile_query(query, event_schema())
    assert addresses.addresses(condition) is not None, "the index narrows this search"
    page = store.find(condition, limit=100)
    found = (page.total, [str(e["event.id"]) for e in page.events], store.seen_by(condition))
    assert found == scan(store, condition)
    store.close()


def test_the_answers_are_the_events_that_hold_the_address(store: SqliteEventStore) -> None:
    def ids(query: str) -> set[str]:
        page = store.find(compile_query(query, event_schema()), limit=100)
        return {str(e["event.id"]) for e in page.events}

    assert ids("source.ip:203.0.113.7 OR related.ip:203.0.113.7") == {"a001", "a002"}
    assert ids("source.ip:2001:db8::5") == {"a003"}  # stored in capitals, compared without case
    assert ids("related.ip:198.51.100.4") == {"a004", "a005"}  # a list and a single value
    store.close()


def test_the_search_reads_the_index_not_every_event(store: SqliteEventStore) -> None:
    condition = compile_query("source.ip:203.0.113.7 OR related.ip:203.0.113.7", event_schema())
    compiler = query_sqlite.Compiler(store._read_columns(), store._known_kinds())
    where, values = compiler.where(condition)  # type: ignore[arg-type]
    source, given = query_sqlite._events(condition)
    plan = [
        row[-1]
        for row in store.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM {source} WHERE {where}", [*given, *values]
        )
    ]
    assert any("SEARCH event_addresses USING PRIMARY KEY (address=?)" in p for p in plan), plan
    assert not any(p.startswith(f"SCAN {TABLE}") for p in plan), plan
    store.close()


def test_a_resent_event_is_indexed_once(store: SqliteEventStore) -> None:
    store.write(EVENTS[:2])  # duplicates: stored once, indexed once
    store.index_addresses()
    rows = store.conn.execute(
        f"SELECT address, seq FROM {addresses.TABLE} WHERE address = '203.0.113.7'"
    ).fetchall()
    assert len(rows) == 2
    store.close()


def test_events_the_index_does_not_hold_yet_are_found(
    store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.index_addresses() == len(EVENTS)
    store.ensure_columns(["client.ip"])
    store.conn.execute(  # another writer of the file, after the index was caught up
        f'INSERT INTO {TABLE} ("event.id", "@timestamp", "source.ip", "client.ip") '
        "VALUES ('x1', '2026-11-21T00:00:00.000Z', '203.0.113.7', '10.0.0.2')"
    )
    store.conn.commit()
    monkeypatch.setattr(addresses, "catch_up", lambda *a, **k: 0)  # a search that cannot
    for query, expected in (("source.ip:203.0.113.7", {"a001", "x1"}),
                            ("client.ip:10.0.0.2", {"x1"})):  # fmt: skip
        page = store.find(compile_query(query, event_schema()))
        assert {str(e["event.id"]) for e in page.events} == expected
    store.close()


def test_a_search_catches_the_index_up_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(addresses, "CHUNK", 3)
    store = SqliteEventStore(tmp_path / "events.db")
    store.write(EVENTS)
    upto = store.conn.execute(f"SELECT seq FROM {addresses.UPTO}").fetchone()[0]
    assert upto == 0
    page = store.find(compile_query("related.ip:198.51.100.4", event_schema()))
    assert {str(e["event.id"]) for e in page.events} == {"a004", "a005"}
    upto = store.conn.execute(f"SELECT seq FROM {addresses.UPTO}").fetchone()[0]
    assert upto == len(EVENTS)
    assert addresses.catch_up(store.conn, TABLE, budget=0) == len(EVENTS)
    store.close()


def test_a_store_made_before_the_index_has_it_made_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SqliteEventStore(path).write(EVENTS)
    conn = sqlite3.connect(path)  # as a store of an earlier version: no index
    conn.execute(f"DROP TABLE {addresses.TABLE}")
    conn.execute(f"DROP TABLE {addresses.UPTO}")
    conn.commit()
    conn.close()
    store = SqliteEventStore(path)
    condition = compile_query("related.ip:2001:db8::5 OR source.ip:2001:db8::5", event_schema())
    page = store.find(condition)
    assert {str(e["event.id"]) for e in page.events} == {"a003", "a004"}
    assert page.total == scan(store, condition)[0]
    store.write([event(8, "d1", source__ip="2001:db8::5")])
    assert store.find(condition).total == 3
    store.close()
