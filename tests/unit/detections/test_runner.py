"""The incremental runner: new events only for event rules, a lookback for correlations."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysoc.core.ecs import Event, event_id
from detections.engine.catalog import load_catalog
from detections.engine.proving import compile_folder
from detections.engine.runner import DetectionRunner
from eventstore.sqlite import SqliteEventStore

CATALOG = load_catalog()


def rule(name: str):  # type: ignore[no-untyped-def]
    return compile_folder(CATALOG, next(f for f in CATALOG.folders if f.name == name))


def failure(second: int, src: str = "203.0.113.50") -> Event:
    return {
        "event.id": event_id("t", src, second),
        "@timestamp": f"2026-11-20T02:10:{second:02d}.000Z",
        "network.protocol": "rtsp",
        "rtsp.response.status_code": 401,
        "source.ip": src,
        "destination.ip": "10.31.0.21",
    }


@pytest.fixture
def store() -> SqliteEventStore:
    return SqliteEventStore(Path(":memory:"))


def test_burst_split_across_two_runs_still_fires(store: SqliteEventStore) -> None:
    runner = DetectionRunner(store, [rule("credential_access_rtsp_brute_force")])
    store.write([failure(s) for s in (0, 3, 6)])
    first = runner.run(0, store.head())
    assert first.hits == []
    checkpoint = store.head()
    store.write([failure(s) for s in (9, 12)])
    second = runner.run(checkpoint, store.head())
    assert len(second.hits) == 1
    hit = second.hits[0]
    assert hit.metric == 5 and len(hit.event_ids) == 5
    assert hit.group == {"source.ip": "203.0.113.50", "destination.ip": "10.31.0.21"}


def test_correlation_does_not_fire_again_on_unrelated_new_events(store: SqliteEventStore) -> None:
    runner = DetectionRunner(store, [rule("credential_access_rtsp_brute_force")])
    store.write([failure(s) for s in range(0, 12, 2)])
    assert len(runner.run(0, store.head()).hits) == 1
    checkpoint = store.head()
    store.write([failure(50, src="203.0.113.51")])
    assert runner.run(checkpoint, store.head()).hits == []


def test_event_rule_sees_only_new_events(store: SqliteEventStore) -> None:
    runner = DetectionRunner(store, [rule("credential_access_rtsp_auth_failure")])
    store.write([failure(1)])
    assert len(runner.run(0, 1).hits) == 1
    store.write([failure(2)])
    report = runner.run(1, 2)
    assert [h.event_ids for h in report.hits] == [(event_id("t", "203.0.113.50", 2),)]


def test_writing_twice_stores_once(store: SqliteEventStore) -> None:
    events = [failure(s) for s in range(5)]
    first, second = store.write(events), store.write(events)
    assert (first.inserted, second.inserted, second.duplicates) == (5, 0, 5)
    assert store.count() == 5


def test_events_without_id_are_rejected_not_stored(store: SqliteEventStore) -> None:
    result = store.write([{"@timestamp": "2026-11-20T02:10:00.000Z", "source.ip": "1.2.3.4"}])
    assert (result.inserted, result.rejected) == (0, 1)


def test_chained_correlation_looks_back_over_its_nested_timespans(store: SqliteEventStore) -> None:
    chain = rule("credential_access_ssh_brute_force_then_success")
    brute = rule("credential_access_ssh_brute_force")
    assert chain.timespan_seconds == 600 + brute.timespan_seconds

    def ssh(minute: int, second: int, outcome: str) -> Event:
        return {
            "event.id": event_id("chain", minute, second, outcome),
            "@timestamp": f"2026-11-20T02:{minute:02d}:{second:02d}.000Z",
            "event.action": "ssh_login", "event.outcome": outcome, "user.name": "root",
            "source.ip": "203.0.113.99", "citysoc.source.zone": "internet",
        }  # fmt: skip

    runner = DetectionRunner(store, [chain])
    store.write([ssh(0, s, "failure") for s in range(0, 50, 8)])
    assert runner.run(0, store.head()).hits == []
    checkpoint = store.head()
    store.write([ssh(10, 20, "success")])  # 9m48s after the burst, in the next run
    hits = runner.run(checkpoint, store.head()).hits
    assert len(hits) == 1 and hits[0].group == {"source.ip": "203.0.113.99"}
