"""``citysoc store init`` on engines that have what this machine's engine lacks (lifecycle
management and security): the requests it sends, checked by their shape, and a second run
that changes nothing. The live tests cover the parts the assembled OpenSearch node has."""

from __future__ import annotations

from typing import Any

import pytest

from citysoc.core.topology import Topology
from eventstore.engine.client import EngineRequestError
from eventstore.engine.indices import install, missing
from eventstore.engine.lifecycle import RETENTION_DAYS, agency_levels


class Engine:
    """Holds what is PUT and answers GETs in each API's own wrapping."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.held: dict[str, Any] = {}
        self.puts: list[str] = []

    def request(self, method: str, path: str, *, body: Any = None, **_: Any) -> Any:
        if path == "/_cat/plugins":
            return [
                {"component": "opensearch-index-management"},
                {"component": "opensearch-security"},
            ]
        if path == "/_ilm/status":
            return {"operation_mode": "RUNNING"}
        if path == "/_security/_authenticate":
            return {"username": "citysoc-ops"}
        name = path.rsplit("/", 1)[1]
        if method == "PUT":
            self.puts.append(path)
            self.held[path] = body
            return {"acknowledged": True}
        if path not in self.held:
            raise EngineRequestError("not found", status=404)
        body = self.held[path]
        if path.startswith("/_component_template/"):
            return {"component_templates": [{"name": name, "component_template": body}]}
        if path.startswith("/_index_template/"):
            return {"index_templates": [{"name": name, "index_template": body}]}
        if path.startswith("/_plugins/_ism/"):
            return {"_id": name, "_seq_no": 3, "_primary_term": 1, "policy": body["policy"]}
        return {name: body}

    def bulk(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("no writes here")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("flavour", ["opensearch", "elasticsearch"])
def test_every_part_is_put_once_then_left_alone(flavour: str, topology: Topology) -> None:
    engine = Engine(flavour)
    first = install(engine, topology)  # type: ignore[arg-type]
    assert {c.outcome for c in first} == {"created"}
    assert missing(engine) == []  # type: ignore[arg-type]
    again = install(engine, topology)  # type: ignore[arg-type]
    assert {c.outcome for c in again} == {"unchanged"}, [
        c for c in again if c.outcome != "unchanged"
    ]
    agencies = set(agency_levels(topology))
    roles = {c.name for c in first if c.kind == "read role"}
    assert roles == {f"citysoc-read-{a}" for a in agencies}


def test_opensearch_lifecycle_keeps_each_agency_as_long_as_its_level(topology: Topology) -> None:
    engine = Engine("opensearch")
    install(engine, topology)  # type: ignore[arg-type]
    levels = agency_levels(topology)
    for agency, level in levels.items():
        policy = engine.held[f"/_plugins/_ism/policies/citysoc-level-{level}"]["policy"]
        patterns = {p for t in policy["ism_template"] for p in t["index_patterns"]}
        assert f".ds-logs-*-{agency}-*" in patterns
        delete = policy["states"][0]["transitions"][0]["conditions"]["min_index_age"]
        assert delete == f"{RETENTION_DAYS[level]}d"
    role = engine.held["/_plugins/_security/api/roles/citysoc-read-d1"]
    assert role["index_permissions"][0]["index_patterns"][0] == "logs-*-d1"
    assert "write" not in str(role["index_permissions"][0]["allowed_actions"])


def test_elasticsearch_templates_name_the_agencys_lifecycle_policy(topology: Topology) -> None:
    engine = Engine("elasticsearch")
    install(engine, topology)  # type: ignore[arg-type]
    level = agency_levels(topology)["tanbinh"]
    template = engine.held["/_index_template/citysoc-logs-tanbinh"]
    assert template["index_patterns"] == ["logs-*-tanbinh"] and template["data_stream"] == {}
    assert template["template"]["settings"]["index.lifecycle.name"] == f"citysoc-level-{level}"
    phases = engine.held[f"/_ilm/policy/citysoc-level-{level}"]["policy"]["phases"]
    assert phases["delete"]["min_age"] == f"{RETENTION_DAYS[level]}d"
    role = engine.held["/_security/role/citysoc-read-tanbinh"]
    assert role["indices"][0]["names"][0] == "logs-*-tanbinh"
    assert role["indices"][0]["privileges"] == ["read", "view_index_metadata"]


def test_an_empty_engine_lacks_everything(topology: Topology) -> None:
    assert len(missing(Engine("opensearch"))) == 3  # type: ignore[arg-type]
