"""The store's Elasticsearch adapter against a real Elasticsearch, where one is given
(``CITYSOC_TEST_ELASTIC_URL``): none with data streams can be assembled from Maven Central
here (docs/operations.md), so without it this is skipped, with that reason."""

from __future__ import annotations

import time

import pytest

from citysoc.core.ecs import event_id
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from eventstore.engine.client import open_client
from eventstore.engine.indices import install
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore

URL = Settings().test_elastic_url


@pytest.mark.skipif(
    not URL,
    reason="CITYSOC_TEST_ELASTIC_URL is not set, and no Elasticsearch with data streams can "
    "be assembled from Maven Central",
)
def test_elasticsearch_stores_once_per_agency_and_converges(topology: Topology) -> None:
    client = open_client(parse_engine_url("elasticsearch+" + URL))
    install(client, topology)
    assert {c.outcome for c in install(client, topology)} <= {"unchanged", "unsupported"}
    store = EngineEventStore(client, refresh=True, settle_seconds=0, clock=lambda: time.time() + 60)
    agency = "citysoc_live_test"
    batch = [
        {
            "@timestamp": "2026-11-20T00:00:00.000Z",
            "event.id": event_id("es", agency, n),
            "event.dataset": "syslog.generic",
            "organization.id": agency,
        }
        for n in range(3)
    ]
    store.write(batch)
    assert store.write(batch).duplicates == 3
    ids = [e["event.id"] for e in batch]
    assert len(store.get(ids, agencies=[agency])) == 3
    assert store.get(ids, agencies=["d1"]) == []
