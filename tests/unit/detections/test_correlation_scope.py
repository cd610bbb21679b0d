"""Correlations read a kept copy of their candidates: the same hits as reading the look-back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from detections.engine.catalog import load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.correlation_scope import CANDIDATES, CandidateTable, member_conditions
from detections.engine.proving import load_sample
from detections.engine.runner import DetectionRunner, Hit
from eventstore.sqlite import SqliteEventStore

CATALOG = load_catalog()
RULES = compile_catalog(CATALOG).rules
CORRELATIONS = [r for r in RULES if r.kind != "event"]


def samples() -> list[Event]:
    """Every correlation's match and nomatch samples, each on its own minute of one day."""
    events: list[Event] = []
    for n, folder in enumerate(sorted(CATALOG.folders, key=lambda f: f.name)):
        if not any(r.name == folder.name for r in CORRELATIONS):
            continue
        for m, path in enumerate(sorted(folder.path.glob("*match/*.json"))):
            for event in load_sample(path):
                shifted = dict(event)
                stamp = str(event["@timestamp"])  # the samples' own seconds are kept
                shifted["@timestamp"] = f"2026-11-21T{n % 24:02d}:{m:02d}:{stamp[17:]}"
                shifted["event.id"] = f"{folder.name}-{m}-{event['event.id']}"
                events.append(shifted)
    return events


def hits_of(rules: list[CompiledRule], slices: list[list[Event]], *, keep: bool) -> list[tuple]:
    store = SqliteEventStore(Path(":memory:"))
    runner = DetectionRunner(store, rules)
    if not keep:
        runner.candidates = CandidateTable([])
    found: list[Hit] = []
    for batch in slices:
        after = store.head()
        store.write(batch)
        found.extend(runner.run(after, store.head()).hits)
    assert bool(runner.candidates.rule_ids) is keep  # kept to the end: no error dropped it
    return sorted((h.rule.rule_id, h.event_ids, h.first_seen, h.last_seen, h.metric) for h in found)


def test_every_correlation_of_the_catalog_has_its_member_conditions_read() -> None:
    unread = [r.name for r in CORRELATIONS if member_conditions(r.sql) is None]
    assert CORRELATIONS and unread == []


def test_sql_of_another_shape_is_not_read() -> None:
    assert member_conditions("SELECT * FROM detection_scope WHERE x = 1") is None
    gated = "WITH r AS (SELECT COALESCE((a = 1), 0) AS b0 FROM detection_scope) SELECT 1"
    assert member_conditions(gated) == "(a = 1)"
    assert member_conditions(gated + " UNION SELECT * FROM detection_scope") is None
    assert member_conditions(gated.replace("a = 1", "a = 1; DROP TABLE x")) is None


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_candidates_give_the_hits_of_the_whole_look_back(seed: int) -> None:
    """Samples in shuffled slices, some events arriving late (an old time in a later slice):
    the same hits, run after run, as correlations reading the store."""
    events = samples()
    assert len(events) > 50
    rng = random.Random(seed)
    ordered = sorted(events, key=lambda e: str(e["@timestamp"]))
    late = set(rng.sample(range(len(ordered)), k=len(ordered) // 20))
    on_time = [e for n, e in enumerate(ordered) if n not in late]
    cuts = sorted(rng.sample(range(1, len(on_time)), k=4))
    slices = [on_time[a:b] for a, b in zip([0, *cuts], [*cuts, len(on_time)], strict=True)]
    for n in late:  # each late event comes with a later slice
        slices[rng.randrange(len(slices))].append(ordered[n])
    kept = hits_of(CORRELATIONS, slices, keep=True)
    assert kept == hits_of(CORRELATIONS, slices, keep=False)
    assert len({h[0] for h in kept}) >= len(CORRELATIONS) // 2  # most correlations fired


def test_the_copy_is_refilled_after_a_gap_and_cut_at_the_look_back() -> None:
    rules = [r for r in CORRELATIONS if r.name == "credential_access_rtsp_brute_force"]
    store = SqliteEventStore(Path(":memory:"))
    runner = DetectionRunner(store, rules)

    def failure(minute: int, second: int) -> Event:
        return {
            "event.id": f"f-{minute}-{second}",
            "@timestamp": f"2026-11-20T02:{minute:02d}:{second:02d}.000Z",
            "network.protocol": "rtsp",
            "rtsp.response.status_code": 401,
            "source.ip": "203.0.113.50",
            "destination.ip": "10.31.0.21",
        }

    store.write([failure(0, s) for s in range(0, 10, 2)] + [{**failure(0, 1), "event.id": "ok",
                 "rtsp.response.status_code": 200}])  # fmt: skip
    assert len(runner.run(0, store.head()).hits) == 1
    held = store.conn.execute(f"SELECT COUNT(*) FROM temp.{CANDIDATES}").fetchone()[0]
    assert held == 5  # the answered request is no candidate
    checkpoint = store.head()
    store.write([failure(10, 0)])  # ten minutes later: the first burst is past the look-back
    runner.run(checkpoint, store.head())
    held = store.conn.execute(f"SELECT COUNT(*) FROM temp.{CANDIDATES}").fetchone()[0]
    assert held == 1
    store.write([failure(10, s) for s in range(2, 10, 2)])
    report = runner.run(store.head() - 4 - 1, store.head())  # positions not where it left off
    assert len(report.hits) == 1 and report.hits[0].metric == 5


def test_events_another_writer_stores_are_seen_run_after_run(tmp_path: Path) -> None:
    """The collector writes through a connection of its own: keeping the copy must not leave
    the detection connection reading an old snapshot of the store."""
    rules = [r for r in RULES if r.name == "credential_access_rtsp_brute_force"]
    rules += [r for r in RULES if r.name == "credential_access_rtsp_auth_failure"]
    path = tmp_path / "events.db"
    reader, writer = SqliteEventStore(path), SqliteEventStore(path)
    runner = DetectionRunner(reader, rules)

    def failure(second: int) -> Event:
        return {
            "event.id": f"w-{second}",
            "@timestamp": f"2026-11-20T02:10:{second:02d}.000Z",
            "network.protocol": "rtsp",
            "rtsp.response.status_code": 401,
            "source.ip": "203.0.113.50",
            "destination.ip": "10.31.0.21",
        }

    after = 0
    for second in range(0, 12, 2):
        writer.write([failure(second)])
        upto = reader.head()
        assert upto == after + 1, "the reader sees the other writer's event"
        report = runner.run(after, upto)
        assert report.events_scanned == 1
        after = upto
    assert runner.candidates.rule_ids
