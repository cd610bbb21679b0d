"""The Elasticsearch sink against a stand-in client: bulk create, 409 as duplicate, retries."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import (
    ApiResponseMeta,
    ConnectionError,
    HttpHeaders,
    NodeConfig,
    ObjectApiResponse,
)

from citysoc.core.errors import StoreError
from collectors.elastic import ElasticSink, data_stream
from collectors.elastic_template import ILM_POLICY_NAME, TEMPLATE_NAME


def response(body: dict[str, Any]) -> ObjectApiResponse[Any]:
    meta = ApiResponseMeta(200, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9200))
    return ObjectApiResponse(body=body, meta=meta)


class FakeClient:
    """Records calls; answers bulk requests from a script of per-item statuses."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.bulks: list[list[dict[str, Any]]] = []
        self.installed: list[str] = []
        self.ilm = self.indices = self

    def put_lifecycle(self, *, name: str, policy: dict[str, Any]) -> None:
        self.installed.append(f"ilm:{name}")

    def put_index_template(self, *, name: str, **body: Any) -> None:
        assert body["data_stream"] == {} and "logs-*-*" in body["index_patterns"]
        self.installed.append(f"template:{name}")

    def bulk(self, *, operations: list[dict[str, Any]]) -> ObjectApiResponse[Any]:
        self.bulks.append(operations)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return response({"errors": True, "items": [{"create": {"status": s}} for s in step]})


def event(n: int, agency: str = "d1") -> dict[str, Any]:
    return {"event.id": f"id{n}", "@timestamp": "2026-11-20T00:00:00.000Z",
            "event.dataset": "suricata.eve", "organization.id": agency}  # fmt: skip


def sink(client: FakeClient) -> ElasticSink:
    return ElasticSink(client, sleep=lambda _s: None)  # type: ignore[arg-type]


def test_bulk_creates_into_a_data_stream_per_dataset_and_agency() -> None:
    client = FakeClient([[201, 201]])
    result = sink(client).write([event(1), event(2, "Tan-Binh")])
    assert (result.inserted, result.duplicates, result.rejected) == (2, 0, 0)
    headers = client.bulks[0][0::2]
    assert headers[0] == {"create": {"_index": "logs-suricata.eve-d1", "_id": "id1"}}
    assert headers[1]["create"]["_index"] == "logs-suricata.eve-tan_binh"
    assert client.bulks[0][1]["data_stream.namespace"] == "d1"
    assert client.installed == [f"ilm:{ILM_POLICY_NAME}", f"template:{TEMPLATE_NAME}"]


def test_conflicts_are_duplicates_and_bad_documents_rejected() -> None:
    result = sink(FakeClient([[201, 409, 400]])).write([event(1), event(2), event(3)])
    assert (result.inserted, result.duplicates, result.rejected) == (1, 1, 1)


def test_throttled_items_are_retried_alone() -> None:
    client = FakeClient([[201, 429], [201]])
    result = sink(client).write([event(1), event(2)])
    assert result.inserted == 2
    assert [op["create"]["_id"] for op in client.bulks[1][0::2]] == ["id2"]


def test_an_unreachable_cluster_is_a_store_error_after_retries() -> None:
    down = ConnectionError("connection refused")
    client = FakeClient([[201, 201]] * 0 + [down] * 5)
    client.installed = ["already"]
    elastic = sink(client)
    elastic._installed = True
    with pytest.raises(StoreError, match="unreachable"):
        elastic.write([event(1)])
    assert len(client.bulks) == 5


def test_data_stream_names_follow_elastics_naming_rules() -> None:
    assert data_stream({"event.dataset": "Syslog Generic", "organization.id": "D-1"}) == (
        "syslog_generic",
        "d_1",
    )
    assert data_stream({}) == ("generic", "default")
