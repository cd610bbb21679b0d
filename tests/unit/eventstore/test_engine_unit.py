"""The engine store's parts without an engine: URLs, bulk answers, retries, refusals, names,
and which rules the engine can run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from citysoc.core.errors import ConfigError, StoreError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from detections.engine.engine_queries import relax
from eventstore.engine.client import EngineRequestError, EngineUnavailableError
from eventstore.engine.deadletter import DeadLetters
from eventstore.engine.layout import data_stream, namespace_of
from eventstore.engine.lifecycle import agency_levels
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore, EngineNotPreparedError, ingest_window
from eventstore.open import engine_spec


class FakeClient:
    """Answers bulk requests from a script of per-item statuses (or errors to raise)."""

    flavour = "opensearch"

    def __init__(self, script: list[Any], *, prepared: bool = True) -> None:
        self.script = script
        self.prepared = prepared
        self.bulks: list[list[dict[str, Any]]] = []

    def bulk(self, operations: list[dict[str, Any]], *, refresh: bool = False) -> Any:
        self.bulks.append(list(operations))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        items = [{"create": {"status": s, "error": {"type": "mapper_parsing_exception",
                  "reason": "bad"} if s == 400 else None}} for s in step]  # fmt: skip
        return {"errors": True, "items": items}

    def request(self, method: str, path: str, **_: Any) -> Any:
        """What `citysoc store init` put, as the engine answers for it (or 404)."""
        assert method == "GET", f"unexpected {method} {path}"
        if not self.prepared:
            raise EngineRequestError("not found", status=404)
        if path.startswith("/_component_template/"):
            return {"component_templates": [{"component_template": {}}]}
        if path.startswith("/_index_template/"):
            return {"index_templates": [{"index_template": {}}]}
        return {path.rsplit("/", 1)[1]: {}}

    def close(self) -> None:
        pass


def event(n: int, agency: str = "d1") -> dict[str, Any]:
    return {"event.id": f"id{n}", "@timestamp": "2026-11-20T00:00:00.000Z",
            "event.dataset": "suricata.eve", "organization.id": agency}  # fmt: skip


def store(client: FakeClient, tmp_path: Path | None = None) -> EngineEventStore:
    letters = DeadLetters(tmp_path) if tmp_path else None
    return EngineEventStore(client, dead_letters=letters, sleep=lambda _s: None)  # type: ignore[arg-type]


def test_urls_name_the_flavour_the_nodes_and_hide_the_password() -> None:
    spec = parse_engine_url("opensearch+https://ops:s3cret@n1:9201,n2")
    assert spec.hosts == ("https://n1:9201", "https://n2:9200") and spec.tls
    assert spec.basic_auth() == ("ops", "s3cret") and "s3cret" not in repr(spec)
    with pytest.raises(ConfigError, match="expected sqlite"):
        parse_engine_url("mongodb://x")
    with pytest.raises(ConfigError, match="scheme once"):
        parse_engine_url("opensearch+http://127.0.0.1:1,http://127.0.0.1:2")
    with pytest.raises(ConfigError) as refused:
        parse_engine_url("solr+ftp://u:hunter2@h")
    assert "hunter2" not in str(refused.value)


def test_settings_choose_the_store_for_every_program(tmp_path: Path) -> None:
    assert engine_spec(Settings(data_dir=tmp_path)) is None
    assert Settings(event_store=f"sqlite:///{tmp_path}/e.db").event_store_path == tmp_path / "e.db"
    spec = engine_spec(
        Settings(event_store="elasticsearch+http://127.0.0.1:9", event_store_api_key=SecretStr("k"))
    )
    assert spec is not None and spec.flavour == "elasticsearch" and spec.api_key is not None
    with pytest.raises(ConfigError, match="CA_FILE"):
        engine_spec(
            Settings(event_store="opensearch+https://h", event_store_ca_file=tmp_path / "x")
        )


def test_bulk_creates_into_a_data_stream_per_dataset_and_agency() -> None:
    client = FakeClient([[201, 201]])
    result = store(client).write([event(1), event(2, "Tan-Binh")])
    assert (result.inserted, result.duplicates, result.rejected) == (2, 0, 0)
    headers = client.bulks[0][0::2]
    assert headers[0] == {"create": {"_index": "logs-suricata.eve-d1", "_id": "id1"}}
    assert headers[1]["create"]["_index"] == "logs-suricata.eve-tan_binh"


def test_conflicts_are_duplicates_and_refusals_dead_letters(tmp_path: Path) -> None:
    result = store(FakeClient([[201, 409, 400]]), tmp_path).write([event(1), event(2), event(3)])
    assert (result.inserted, result.duplicates, result.rejected) == (1, 1, 1)
    assert result.refusals[0].event_id == "id3" and "mapper_parsing" in result.refusals[0].reason
    (kept,) = tmp_path.glob("engine-*.ndjson")
    assert '"event_id":"id3"' in kept.read_text()


def test_throttled_items_are_retried_alone() -> None:
    client = FakeClient([[201, 429], [201]])
    assert store(client).write([event(1), event(2)]).inserted == 2
    assert [op["create"]["_id"] for op in client.bulks[1][0::2]] == ["id2"]


def test_an_unreachable_engine_is_a_store_error_after_retries() -> None:
    client = FakeClient([EngineUnavailableError("refused")] * 5)
    with pytest.raises(StoreError, match="refused"):
        store(client).write([event(1)])
    assert len(client.bulks) == 5


def test_a_refused_request_is_not_retried() -> None:
    client = FakeClient([EngineRequestError("wrong credentials", status=401)])
    with pytest.raises(EngineRequestError):
        store(client).write([event(1)])
    assert len(client.bulks) == 1


def test_events_without_id_are_refused_without_a_request() -> None:
    client = FakeClient([])
    result = store(client).write([{"@timestamp": "2026-11-20T00:00:00Z"}])
    assert (result.rejected, client.bulks) == (1, [])


def test_an_engine_not_prepared_is_refused_before_any_write() -> None:
    """A store error, so that a collector keeps the events buffered until it is prepared."""
    client = FakeClient([[201]], prepared=False)
    with pytest.raises(EngineNotPreparedError, match="citysoc store init"):
        store(client).write([event(1)])
    assert client.bulks == []
    client.prepared = True
    assert store(client).write([event(1)]).inserted == 1


def test_names_and_slices() -> None:
    assert data_stream({"event.dataset": "Syslog Generic", "organization.id": "D-1"}) == (
        "logs-syslog_generic-d_1"
    )
    assert data_stream({}) == "logs-generic-default"
    assert namespace_of("tan-binh") == "tan_binh"
    window = ingest_window(10, 12)["range"]["event.ingested"]
    assert (window["gte"], window["lt"]) == (11_000, 13_000)


def test_retention_follows_each_agencys_highest_level(topology: Topology) -> None:
    levels = agency_levels(topology)
    assert set(levels) >= set(topology.agencies)
    for segment in topology.segments.values():
        assert levels[namespace_of(segment.agency)] >= segment.security_level


def rule(condition: str, detection: str) -> SigmaRule:
    text = f"""
title: t
id: 11111111-1111-4111-8111-111111111111
logsource: {{product: citysoc}}
detection:
{detection}
  condition: {condition}
"""
    (parsed,) = SigmaCollection.from_yaml(text).rules
    assert isinstance(parsed, SigmaRule)
    return parsed


def test_an_inexact_condition_is_relaxed_where_sound_and_refused_where_negated() -> None:
    regex = "  sel: {a: x}\n  long: {dns.question.name|re: '^[a-z]{40,}$'}\n"
    relaxed = relax(rule("sel and long", regex))
    (item,) = relaxed.detection.detections["long"].detection_items
    assert str(item.value[0]) == "*" and item.modifiers == []
    with pytest.raises(SigmaError, match="negates"):
        relax(rule("sel and not long", regex))


class StartingClient(FakeClient):
    """Answers a count 503 (``all shards failed``) a number of times, as an engine does while
    a new data stream's first shards start, then the count."""

    def __init__(self, refusals: int, status: int = 503) -> None:
        super().__init__([])
        self.refusals, self.status, self.asked = refusals, status, 0

    def request(self, method: str, path: str, **_: Any) -> Any:
        self.asked += 1
        if self.asked <= self.refusals:
            body = {"error": {"type": "search_phase_execution_exception", "failed_shards": []}}
            raise EngineRequestError("all shards failed", status=self.status, body=body)
        return {"count": 7}


def test_a_read_waits_out_shards_that_are_starting() -> None:
    client = StartingClient(refusals=3)
    assert store(client).count() == 7
    assert client.asked == 4


def test_a_read_refused_for_longer_than_its_patience_is_raised() -> None:
    client = StartingClient(refusals=1000)
    with pytest.raises(EngineRequestError, match="all shards failed"):
        store(client).count()
    assert 5 < client.asked < 20, "the backoff's pauses add up to the read's patience"


def test_a_read_refused_for_what_it_asks_is_not_asked_again() -> None:
    client = StartingClient(refusals=1, status=400)
    with pytest.raises(EngineRequestError):
        store(client).count()
    assert client.asked == 1
