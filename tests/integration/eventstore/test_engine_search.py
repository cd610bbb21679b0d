"""The query language on a live engine: the same corpus and the same answers as the SQLite
store (tests/unit/eventstore/test_event_search.py), agencies read from their own data streams,
paging with the total, and per-agency sightings."""

from __future__ import annotations

import pytest

from citysoc.core.query import compile_query, event_schema
from eventstore.engine.store import EngineEventStore
from tests.unit.eventstore.test_event_search import CASES, EVENTS


@pytest.fixture
def loaded(engine_store: EngineEventStore) -> EngineEventStore:
    result = engine_store.write(EVENTS)
    assert result.inserted == len(EVENTS), result
    engine_store.refresh()
    return engine_store


def test_every_form_finds_what_sqlite_finds(loaded: EngineEventStore) -> None:
    wrong = {}
    for query, expected in CASES:
        found = loaded.find(compile_query(query, event_schema()), limit=100)
        ids = {e["event.id"] for e in found.events}
        if ids != expected or found.total != len(expected):
            wrong[query] = (sorted(ids), found.total, sorted(expected))
    assert wrong == {}


def test_agencies_paging_and_sightings(loaded: EngineEventStore) -> None:
    condition = compile_query("203.0.113.77", event_schema())
    mine = loaded.find(condition, agencies=["d1"])
    assert {e["event.id"] for e in mine.events} == {"e01", "e02"}
    everything = loaded.find(None, limit=100)
    pages = [loaded.find(None, limit=3, offset=at) for at in (0, 3, 6)]
    assert all(p.total == len(EVENTS) for p in pages)
    assert [e["event.id"] for p in pages for e in p.events] == [
        e["event.id"] for e in everything.events
    ]
    stamps = [e["@timestamp"] for e in everything.events]
    assert stamps == sorted(stamps, reverse=True)
    seen = loaded.seen_by(condition)
    assert [(s.agency, s.events) for s in seen] == [("d1", 2), ("tanbinh", 1)]
    assert seen[0].first_seen == "2026-11-20T01:00:00.000Z"
    assert seen[0].last_seen == "2026-11-21T02:00:00.000Z"
