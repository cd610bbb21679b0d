"""The engine store against a real OpenSearch node: idempotent writes, refusals kept with
their reason, per-agency reads, slices by ingest time, index management that converges."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from citysoc.core.ecs import event_id
from citysoc.core.topology import Topology
from eventstore.engine.client import EngineClient
from eventstore.engine.deadletter import DeadLetters
from eventstore.engine.indices import install
from eventstore.engine.store import EngineEventStore


def events(n: int, agency: str = "d1", **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": "2026-11-20T02:00:00.000Z",
            "event.id": event_id("store-test", agency, i),
            "event.dataset": "syslog.generic",
            "organization.id": agency,
            "source.ip": f"10.0.0.{i % 250 + 1}",
            **extra,
        }
        for i in range(n)
    ]


def test_the_same_events_twice_are_stored_once(engine_store: EngineEventStore) -> None:
    batch = events(500)
    first = engine_store.write(batch)
    again = engine_store.write(batch + events(5, "tanbinh"))
    assert (first.inserted, first.duplicates) == (500, 0)
    assert (again.inserted, again.duplicates, again.rejected) == (5, 500, 0)
    assert engine_store.count() == 505


def test_a_refused_event_is_kept_with_its_reason_and_the_rest_stored(
    engine_client: EngineClient, tmp_path: Path
) -> None:
    letters = DeadLetters(tmp_path / "deadletter")
    store = EngineEventStore(engine_client, dead_letters=letters, refresh=True)
    store.write(events(1, **{"x.conflict.inner": "x.conflict is an object from now on"}))
    bad = events(3, **{"x.conflict": "a value where an object is mapped"})[1:]
    result = store.write([*bad, *events(10, "ioc")])
    assert (result.inserted, result.rejected) == (10, 2)
    assert {r.event_id for r in result.refusals} == {e["event.id"] for e in bad}
    kept = [json.loads(line) for line in letters.path().read_text().splitlines()]
    assert [k["event_id"] for k in kept] == [e["event.id"] for e in bad]
    assert all("mapper_parsing_exception" in k["reason"] for k in kept)
    assert kept[0]["event"]["x.conflict"] == bad[0]["x.conflict"]


def test_reads_are_limited_to_the_callers_agencies(engine_store: EngineEventStore) -> None:
    d1, tanbinh = events(3, "d1"), events(3, "tanbinh")
    engine_store.write(d1 + tanbinh)
    ids = [e["event.id"] for e in d1 + tanbinh]
    assert len(engine_store.get(ids)) == 6
    only = engine_store.get(ids, agencies=["tanbinh"])
    assert {e["organization.id"] for e in only} == {"tanbinh"} and len(only) == 3
    assert engine_store.get(ids, agencies=[]) == []
    assert {e["organization.id"] for e in engine_store.recent(agency="d1")} == {"d1"}


def test_a_slice_holds_what_was_ingested_in_it_whatever_its_timestamp(
    engine_client: EngineClient,
) -> None:
    clock = [time.time() + 60]
    store = EngineEventStore(engine_client, refresh=True, settle_seconds=0, clock=lambda: clock[0])
    store.write(events(4))
    first = store.head()
    late = events(2, "dc", **{"@timestamp": "2020-01-01T00:00:00.000Z"})
    time.sleep(1.1)  # the next whole second of the engine's clock
    store.write(late)
    clock[0] += 120
    ips = [e["source.ip"] for e in late]
    found = store.matching("source.ip", ips, after=first - 60, upto=store.head())
    assert {e["event.id"] for e in found} >= {e["event.id"] for e in late}
    assert store.matching("source.ip", ips, after=store.head(), upto=store.head() + 5) == []


def test_index_management_converges(engine_client: EngineClient, topology: Topology) -> None:
    again = install(engine_client, topology)
    assert {c.outcome for c in again} <= {"unchanged", "unsupported"}, again
    templates = engine_client.request("GET", "/_index_template/citysoc-logs*")["index_templates"]
    patterns = {p for t in templates for p in t["index_template"]["index_patterns"]}
    assert {"logs-*-*", "logs-*-d1", "logs-*-tanbinh"} <= patterns
    mapping = engine_client.request("POST", "/_index_template/_simulate_index/logs-x-d1")
    props = mapping["template"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert mapping["template"]["settings"]["index"]["default_pipeline"] == "citysoc-ingested"


def test_health_names_the_cluster(engine_store: EngineEventStore) -> None:
    health = engine_store.health()
    assert health.ok and health.kind == "opensearch" and "nodes" in health.detail
