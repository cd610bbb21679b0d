"""Shared by the integration tests: a real engine for the store's live tests, the node
``scripts/engine.sh`` assembles from Maven Central (or the one ``CITYSOC_TEST_ENGINE_URL``
names), on 127.0.0.1 only."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from eventstore.engine.client import EngineClient, open_client
from eventstore.engine.indices import install
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "scripts" / "engine.sh"
NAME = "citysoc-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def engine(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``scripts/engine.sh ARGS``; a machine that cannot run the engine skips the test."""
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("no Java and Maven to assemble the engine from Maven Central")
    done = subprocess.run(
        [str(ENGINE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode == 2:
        pytest.skip(f"the engine cannot run here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def start_engine(name: str, nodes: int) -> str:
    """Start ``nodes`` nodes on free ports; the store URL naming every node."""
    port = free_port()
    while any(not port_is_free(port + n) for n in range(1, nodes)):
        port = free_port()
    engine("start", name, "--nodes", str(nodes), "--http-port", str(port), "--heap", "512m")
    return "opensearch+http://" + ",".join(f"127.0.0.1:{port + n}" for n in range(nodes))


@pytest.fixture(scope="session")
def engine_name(request: pytest.FixtureRequest) -> str:
    """The engine's name: one per pytest-xdist worker in parallel runs."""
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    return f"{NAME}-{worker}" if worker else NAME


@pytest.fixture(scope="session")
def engine_url(engine_name: str) -> Iterator[str]:
    given = Settings().test_engine_url
    if given:
        yield given
        return
    url = start_engine(engine_name, 1)
    try:
        yield url
    finally:
        engine("stop", engine_name, timeout=120)


@pytest.fixture(scope="session")
def engine_cluster(engine_name: str) -> Iterator[tuple[str, str]]:
    """A three-node cluster of its own (the fault tests kill its nodes): name and URL."""
    name = f"{engine_name}-cluster"
    url = start_engine(name, 3)
    try:
        yield name, url
    finally:
        engine("stop", name, timeout=180)


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


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


WriteFlows = Callable[[Path, int], None]


def _write_flows(path: Path, count: int) -> None:
    with path.open("w") as out:
        for n in range(count):
            stamp = f"2026-11-20T02:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000"
            record = {
                "timestamp": stamp + "+0000", "flow_id": 1_000_000 + n, "event_type": "flow",
                "src_ip": f"10.20.{n % 250}.{n % 200 + 1}", "src_port": 40000 + n % 20000,
                "dest_ip": "10.10.0.20", "dest_port": 443, "proto": "TCP",
                "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 600,
                         "bytes_toclient": 3000, "state": "closed"},
            }  # fmt: skip
            out.write(json.dumps(record) + "\n")


@pytest.fixture
def write_flows() -> WriteFlows:
    """Writes ``count`` EVE flow lines, each a distinct event, to a file."""
    return _write_flows
