"""Searches answered by the address index alone (``eventstore.addresses``, one address in some
address fields: ``source.ip:X``, the pivot's any-of-every-field) give what a scan of every
event gives: the same totals, pages in the same order, the same per-agency counts and first
and last times, for callers of every agency or some, however far the index has come; and they
read the events table only for the page's rows and the events the index does not hold yet."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from citysoc.core.query import compile_query, event_schema
from citysoc.core.query.tree import Condition, Not
from eventstore import addresses, query_sqlite
from eventstore.sqlite import TABLE, SqliteEventStore

ATTACKER, OTHER, V6 = "203.0.113.7", "198.51.100.4", "2001:db8::5"
CATCH_UP = addresses.catch_up  # the fixture stops searches from catching the index up


def event(n: int, agency: str | None, second: int, **fields: object) -> Event:
    made: Event = {"event.id": f"e{n:03d}", "@timestamp": f"2026-11-20T00:00:{second:02d}.000Z"}
    if agency is not None:
        made["organization.id"] = agency
    made.update({k.replace("__", "."): v for k, v in fields.items()})
    return made


def events() -> list[Event]:
    """Addresses in several fields, in lists (with the same address twice, in capitals),
    several agencies and none, and many events at the same second."""
    made: list[Event] = []
    agencies = ("d1", "tanbinh", "dc", None, "D1")
    for n in range(60):
        agency = agencies[n % 5]
        second = (n * 7) % 13  # equal timestamps, out of store order
        shapes: list[dict[str, object]] = [
            {"source__ip": ATTACKER, "destination__ip": "10.31.0.21"},
            {"source__ip": "10.31.0.21", "destination__ip": ATTACKER},
            {"related__ip": ["10.31.0.21", ATTACKER, "2001:DB8::5", ATTACKER, V6]},
            {"source__ip": ATTACKER, "related__ip": [ATTACKER, OTHER]},
            {"host__ip": ATTACKER},
            {"host__ip": [OTHER, "2001:DB8::5"], "client__ip": ATTACKER},
            {"server__ip": "2001:DB8::5", "dns__resolved_ip": [ATTACKER]},
            {"source__ip": OTHER, "destination__ip": "10.32.0.9", "user__name": "root"},
        ]
        made.append(event(n, agency, second, **shapes[n % len(shapes)]))
    return made


QUERIES = [
    f"source.ip:{ATTACKER}",
    f"destination.ip:{ATTACKER}",
    f"related.ip:{ATTACKER}",
    f"host.ip:{ATTACKER}",
    f"host.ip:{OTHER}",
    f"dns.resolved_ip:{ATTACKER}",
    f"source.ip:{ATTACKER} OR related.ip:{ATTACKER}",
    " OR ".join(f"{field}:{ATTACKER}" for field in addresses.FIELDS),  # the pivot's
    " OR ".join(f"{field}:{V6}" for field in addresses.FIELDS),
    f"server.ip:{V6.upper()} OR host.ip:{V6}",
    f"source.ip:{OTHER} OR related.ip:{OTHER} OR host.ip:{OTHER}",
    "source.ip:192.0.2.99 OR related.ip:192.0.2.99",
]
CALLERS: list[list[str] | None] = [None, ["d1"], ["tanbinh", "dc"], ["nobody"]]
PAGES = [(100, 0), (5, 0), (4, 3), (3, 20)]


def answers(
    store: SqliteEventStore, condition: Condition, agencies: list[str] | None
) -> list[object]:
    found = []
    for limit, offset in PAGES:
        page = store.find(condition, agencies=agencies, limit=limit, offset=offset)
        found.append((page.total, [str(e["event.id"]) for e in page.events]))
    # agencies named in other capitals ("D1") are counted with the others ("d1"), under
    # either spelling, as SQL groups them
    seen = [
        (s.agency.lower(), s.events, s.first_seen, s.last_seen) for s in store.seen_by(condition)
    ]
    return [found, seen]


@pytest.fixture(params=["caught up", "part indexed", "not indexed"])
def store(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> SqliteEventStore:
    made = SqliteEventStore(tmp_path / "events.db")
    stored = events()
    made.write(stored[:40])
    if request.param == "caught up":
        made.index_addresses()
    elif request.param == "part indexed":
        monkeypatch.setattr(addresses, "CHUNK", 17)
        assert made.index_addresses(budget=0) == 17
    made.write(stored[40:])  # after the index's head
    monkeypatch.setattr(addresses, "catch_up", lambda *a, **k: 0)  # searches leave it there
    return made


@pytest.mark.parametrize("query", QUERIES)
def test_the_index_answers_as_a_scan_does(store: SqliteEventStore, query: str) -> None:
    condition = compile_query(query, event_schema())
    assert condition is not None
    compiler = query_sqlite.Compiler(store._read_columns(), store._known_kinds())
    assert query_sqlite._indexed(condition, compiler) is not None, "answered by the index"
    for agencies in CALLERS:
        assert answers(store, condition, agencies) == answers(store, Not(Not(condition)), agencies)
    store.close()


def test_the_answers_are_those_expected(store: SqliteEventStore) -> None:
    condition = compile_query(f"related.ip:{ATTACKER}", event_schema())
    page = store.find(condition, limit=100)
    assert page.total == 16  # n % 8 in (2, 3) of 60: the address in a list, twice in one
    assert len({str(e["event.id"]) for e in page.events}) == 16
    times = [(str(e["@timestamp"]), str(e["event.id"])) for e in page.events]
    assert times == sorted(times, reverse=True)  # newest first, then latest stored
    seen = {s.agency.lower(): s.events for s in store.seen_by(condition)}
    assert sum(seen.values()) == 16 and "" in seen  # events without an agency
    store.close()


def test_a_list_stored_whole_in_a_field_of_single_values(store: SqliteEventStore) -> None:
    """A list written as text into a field that is not read as a list (by another writer) is
    compared whole: its elements do not match, as in a scan, indexed or not."""
    store.conn.execute(
        f'INSERT INTO {TABLE} ("event.id", "@timestamp", "organization.id", "source.ip") '
        f"VALUES ('x1', '2026-11-21T00:00:00.000Z', 'd1', '[\"{ATTACKER}\"]')"
    )
    store.conn.commit()
    for _ in ("not indexed", "indexed"):
        for query in (f"source.ip:{ATTACKER}", f"source.ip:{ATTACKER} OR host.ip:{ATTACKER}"):
            condition = compile_query(query, event_schema())
            assert condition is not None
            assert answers(store, condition, None) == answers(store, Not(Not(condition)), None)
        CATCH_UP(store.conn, TABLE)
    store.close()


def plans(store: SqliteEventStore, sql: str, values: list[object]) -> list[str]:
    return [row[-1] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", values)]


def test_the_events_table_is_read_for_the_page_only(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    store.write(events())
    store.index_addresses()
    query = " OR ".join(f"{field}:{ATTACKER}" for field in addresses.FIELDS)
    condition = compile_query(query, event_schema())
    compiler = query_sqlite.Compiler(store._read_columns(), store._known_kinds())
    indexed = query_sqlite._indexed(condition, compiler)
    assert indexed is not None
    where, values = query_sqlite._scope(condition, ["d1"], compiler)
    matched = query_sqlite._matched(indexed, where, values, ["d1"])
    (rows, at), (counts, summed), (later, tail) = matched.rows, matched.counts, matched.later
    plan = plans(store, f"SELECT * FROM ({rows}) ORDER BY 1 DESC, 2 DESC", at)
    assert any(f"SEARCH {addresses.TABLE} USING PRIMARY KEY (address=?)" in p for p in plan)
    assert not any(TABLE in p.split() for p in plan), plan
    assert not any("TEMP B-TREE" in p for p in plan), plan  # in the index's order
    plan = plans(store, f"SELECT SUM(events) FROM ({counts})", summed)
    assert any(f"SEARCH {addresses.COUNTS} USING INDEX" in p for p in plan), plan
    plan = plans(store, f"SELECT * FROM ({later}) ORDER BY 1 DESC, 2 DESC", tail)
    assert plan[0] == f"SEARCH {TABLE} USING INTEGER PRIMARY KEY (rowid>?)", plan
    store.close()


def test_one_row_an_address_and_event(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    store.write(events()[:8])
    store.index_addresses()
    rows = store.conn.execute(
        f"SELECT seq, fields FROM {addresses.TABLE} WHERE address = ? ORDER BY seq", (ATTACKER,)
    ).fetchall()
    bit = addresses.bit
    assert rows == [
        (1, bit("source.ip", element=False)),
        (2, bit("destination.ip", element=False)),
        (3, bit("related.ip", element=True)),  # twice in the list
        (4, bit("source.ip", element=False) | bit("related.ip", element=True)),
        (5, bit("host.ip", element=False)),
        (6, bit("client.ip", element=False)),
        (7, bit("dns.resolved_ip", element=False)),  # a list of one is stored as its value
    ]
    store.close()


def test_an_index_of_another_layout_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.db"
    SqliteEventStore(path).write(events())
    conn = sqlite3.connect(path)  # as an earlier version left it: (address, seq), caught up
    conn.execute(f"DROP TABLE {addresses.TABLE}")
    conn.execute(f"DROP TABLE {addresses.UPTO}")
    conn.execute(
        f"CREATE TABLE {addresses.TABLE} (address TEXT NOT NULL, seq INTEGER NOT NULL, "
        "PRIMARY KEY (address, seq)) WITHOUT ROWID"
    )
    conn.execute(f"CREATE TABLE {addresses.UPTO} (seq INTEGER NOT NULL)")
    conn.execute(f"INSERT INTO {addresses.UPTO} VALUES (60)")
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path)
    conn.execute(  # as many rows as the events' addresses, to be deleted in chunks
        f"INSERT INTO {addresses.TABLE} SELECT 'x' || value, value FROM json_each(?)",
        (str(list(range(25))),),
    )
    conn.commit()
    conn.close()
    monkeypatch.setattr(addresses, "EARLIER_CHUNK", 10)
    caplog.set_level(logging.INFO, logger=addresses.__name__)
    store = SqliteEventStore(path)
    assert "rebuilding it from the first event" in caplog.text
    assert store.conn.execute(f"SELECT seq FROM {addresses.UPTO}").fetchone()[0] == 0
    earlier = f"SELECT COUNT(*) FROM {addresses.EARLIER}"
    assert store.conn.execute(earlier).fetchone()[0] == 25  # set aside, not dropped at open
    monkeypatch.setattr(addresses, "CHUNK", 40)
    assert store.index_addresses(budget=0) == 40  # a chunk of events, nothing else
    assert store.conn.execute(earlier).fetchone()[0] == 25
    assert store.index_addresses(budget=0) == 60  # the last chunk, and then
    assert store.conn.execute(earlier).fetchone()[0] == 25
    assert store.index_addresses(budget=0) == 60  # a chunk of the earlier rows a call
    assert store.conn.execute(earlier).fetchone()[0] == 14
    condition = compile_query(f"source.ip:{ATTACKER} OR related.ip:{ATTACKER}", event_schema())
    assert condition is not None
    assert answers(store, condition, ["d1"]) == answers(store, Not(Not(condition)), ["d1"])
    assert store.index_addresses() == 60  # the searches have deleted the rest, or this
    assert "the address index of the earlier layout is deleted" in caplog.text
    assert not store.conn.execute(
        "SELECT name FROM sqlite_master WHERE name = ?", (addresses.EARLIER,)
    ).fetchall()
    assert answers(store, condition, ["d1"]) == answers(store, Not(Not(condition)), ["d1"])
    store.close()
    reopened = SqliteEventStore(path)  # the new layout is kept
    assert reopened.conn.execute(f"SELECT seq FROM {addresses.UPTO}").fetchone()[0] == 60
    reopened.close()


def test_the_catching_up_logs_its_progress_when_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    store.write(events())
    monkeypatch.setattr(addresses, "CHUNK", 10)
    with caplog.at_level(logging.INFO, logger=addresses.__name__):
        assert store.index_addresses(budget=0) == 10
    assert "addresses indexed up to event 10 of 60 (17%)" in caplog.text
    store.close()
