"""Shared by the integration tests: a real engine for the store's live tests, the node
``scripts/engine.sh`` assembles from Maven Central (or the one ``CITYSOC_TEST_ENGINE_URL``
names), on 127.0.0.1 only."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from eventstore.engine.client import EngineClient, open_client
from eventstore.engine.indices import install
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore

REPO = Path(__file__).resolve().parents[3]
ENGINE = REPO / "scripts" / "engine.sh"
NAME = "citysoc-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def engine_url() -> Iterator[str]:
    given = Settings().test_engine_url
    if given:
        yield given
        return
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("no Java and Maven to assemble the engine from Maven Central")
    started = subprocess.run(
        [str(ENGINE), "start", NAME, "--http-port", str(free_port()), "--heap", "512m"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if started.returncode == 2:
        pytest.skip(f"the engine cannot run here: {started.stderr.strip()[-300:]}")
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        yield "opensearch+" + started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(ENGINE), "stop", NAME], capture_output=True, timeout=120, check=False)


@pytest.fixture
def engine_client(engine_url: str, topology: Topology) -> Iterator[EngineClient]:
    """A client of an engine holding no events, with citysoc's templates installed."""
    client = open_client(parse_engine_url(engine_url))
    client.request("DELETE", "/_data_stream/logs-*")
    install(client, topology)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def engine_store(engine_client: EngineClient) -> EngineEventStore:
    """The store, refreshing after each write, its clock a minute ahead so that ``head()``
    covers everything already written."""
    return EngineEventStore(
        engine_client, refresh=True, settle_seconds=0, clock=lambda: time.time() + 60
    )
