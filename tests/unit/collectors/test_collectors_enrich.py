"""Enrichment: addresses placed in the example city's topology."""

from __future__ import annotations

import pytest

from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors.enrich import Enricher


@pytest.fixture(scope="module")
def enrich() -> Enricher:
    return Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")


def test_internet_to_camera_takes_the_destination(enrich: Enricher) -> None:
    event = enrich({"source.ip": "203.0.113.50", "destination.ip": "10.31.0.21"})
    assert event["citysoc.source.zone"] == "internet"
    assert "citysoc.source.segment" not in event
    assert event["citysoc.destination.zone"] == "internal"
    assert event["citysoc.destination.segment"] == "cam-d1"
    assert event["citysoc.destination.agency"] == "d1"
    assert event["citysoc.destination.kind"] == "camera"
    assert event["citysoc.destination.level"] == 2
    assert (event["organization.id"], event["citysoc.segment"]) == ("d1", "cam-d1")
    assert event["citysoc.security_level"] == 2


def test_internal_to_internal_takes_the_destination(enrich: Enricher) -> None:
    event = enrich({"source.ip": "10.20.0.30", "destination.ip": "10.40.0.5"})
    assert event["citysoc.source.segment"] == "ioc" and event["citysoc.source.agency"] == "ioc"
    assert (event["organization.id"], event["citysoc.segment"]) == ("drainage", "ics-flood")
    assert event["citysoc.security_level"] == 4


def test_internal_to_internet_takes_the_source(enrich: Enricher) -> None:
    event = enrich({"source.ip": "10.32.0.66", "destination.ip": "198.51.100.9"})
    assert (event["organization.id"], event["citysoc.segment"]) == ("tanbinh", "cam-tanbinh")
    assert event["citysoc.destination.zone"] == "internet"


def test_no_internal_address_takes_the_default(enrich: Enricher) -> None:
    event = enrich({"source.ip": "198.51.100.1", "destination.ip": "203.0.113.9"})
    assert (event["organization.id"], event["citysoc.segment"]) == ("dic", "unknown")
    assert "citysoc.security_level" not in event
    bare = enrich({"message": "no addresses"})
    assert bare["organization.id"] == "dic" and "citysoc.source.zone" not in bare


def test_source_only_event(enrich: Enricher) -> None:
    event = enrich({"source.ip": "10.60.0.5"})
    assert (event["organization.id"], event["citysoc.segment"]) == ("dc", "mgmt")
    assert event["citysoc.source.level"] == 3
