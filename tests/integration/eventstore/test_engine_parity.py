"""The same rules raise the same alerts on the engine as on the embedded SQLite store: on
every rule's match/ and nomatch/ samples, on the demo's inputs, and on the benign baseline."""

from __future__ import annotations

from pathlib import Path

from citysoc.cli.demo import DEMO_INPUTS
from citysoc.core.ecs import Event, event_id
from citysoc.core.topology import Topology
from collectors.enrich import Enricher
from collectors.stats import CollectorStats
from detections.engine.catalog import load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.engine_queries import compile_engine_queries
from detections.engine.engine_runner import EngineDetectionRunner
from detections.engine.proving import load_sample
from detections.engine.runner import DetectionRunner, Hit
from eventstore.engine.store import EngineEventStore
from eventstore.sqlite import SqliteEventStore
from scenarios.baseline import baseline_events

Alerts = set[tuple[str, tuple[str, ...]]]


def sample_events() -> list[Event]:
    """Every sample of every rule, each event with an id unique to its file."""
    events = []
    for folder in load_catalog().folders:
        for path in [*folder.match, *folder.nomatch]:
            for n, event in enumerate(load_sample(path)):
                events.append({**event, "event.id": event_id(str(path), n)})
    return events


def alerts(hits: list[Hit]) -> Alerts:
    return {(hit.rule.rule_id, tuple(sorted(hit.event_ids))) for hit in hits}


def both(events: list[Event], engine_store: EngineEventStore) -> tuple[Alerts, Alerts]:
    catalog = load_catalog()
    rules: list[CompiledRule] = compile_catalog(catalog).rules
    queries = compile_engine_queries(catalog, {r.rule_id for r in rules})
    assert queries.errors == []
    with SqliteEventStore(Path(":memory:")) as sqlite:
        sqlite.write(events)
        embedded = DetectionRunner(sqlite, rules).run(0, sqlite.head())
    for start in range(0, len(events), 2000):
        result = engine_store.write(events[start : start + 2000])
        assert result.rejected == 0, result.refusals[:3]
    engine = EngineDetectionRunner(engine_store, rules, queries.queries).run(0, engine_store.head())
    assert embedded.rule_errors == engine.rule_errors == {}
    return alerts(embedded.hits), alerts(engine.hits)


def test_every_rule_raises_the_same_alerts_on_its_samples(engine_store: EngineEventStore) -> None:
    embedded, engine = both(sample_events(), engine_store)
    fired = {rule for rule, _ in embedded}
    assert len(fired) == len(compile_catalog(load_catalog()).rules), "each fires on its match/"
    assert engine == embedded


def test_the_benign_baseline_and_attacks_raise_the_same_alerts(
    engine_store: EngineEventStore, topology: Topology
) -> None:
    enrich = Enricher(topology, "dic")
    events = [enrich(event) for event in baseline_events()] + sample_events()
    embedded, engine = both(events, engine_store)
    assert embedded, "the attack samples among the baseline raise alerts"
    assert engine == embedded


def test_the_demo_inputs_raise_the_same_alerts(
    engine_store: EngineEventStore, topology: Topology
) -> None:
    enrich = Enricher(topology, "dic")
    events = [enrich(e) for read, path in DEMO_INPUTS for e in read(path, CollectorStats())]
    embedded, engine = both(events, engine_store)
    assert len(embedded) >= 8, "the demo's attacks raise alerts"
    assert engine == embedded


def test_values_too_long_to_index_still_raise_their_alerts(
    engine_store: EngineEventStore,
) -> None:
    """A body of 12,000 characters is kept but not indexed: the engine still hands the event
    to the rule, whose SQLite query finds the injection at its end."""
    folder = next(f for f in load_catalog().folders if f.name == "initial_access_sql_injection")
    (attack,) = load_sample(folder.match[0])
    body = "so_ho_so=" + "A" * 12_000 + "';SELECT pg_sleep(10)--"
    long_one = {**attack, "event.id": event_id("long body"), "http.request.body.content": body}
    embedded, engine = both([long_one], engine_store)
    assert (folder.rule_id, (long_one["event.id"],)) in embedded
    assert engine == embedded
    (stored,) = engine_store.get([long_one["event.id"]])
    assert stored["citysoc.long_fields"] == ["http.request.body.content"]
