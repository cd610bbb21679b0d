"""A node of three killed with SIGKILL in the middle of a million-event ingest: every event
stored once, and the cluster green again once the node is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from citysoc.core.errors import StoreError
from citysoc.core.topology import Topology
from eventstore.engine.client import open_client
from eventstore.engine.indices import install
from eventstore.engine.spec import parse_engine_url
from eventstore.engine.store import EngineEventStore

REPO = Path(__file__).resolve().parents[3]
EVENTS = 1_000_000


def counted(store: EngineEventStore) -> int:
    """Events searchable now (0 while a new data stream's shards are being allocated)."""
    try:
        return store.count()
    except StoreError:
        return 0


def test_kill_9_of_one_node_of_three_during_a_million_events_loses_and_duplicates_nothing(
    tmp_path: Path,
    engine_cluster: tuple[str, str],
    topology: Topology,
    write_flows: Callable[[Path, int], None],
) -> None:
    name, url = engine_cluster
    client = open_client(parse_engine_url(url))
    client.request("DELETE", "/_data_stream/logs-*")
    install(client, topology)
    store = EngineEventStore(client)
    eve = tmp_path / "eve.json"
    write_flows(eve, EVENTS)
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var"), "CITYSOC_EVENT_STORE": url}
    log = (tmp_path / "collect.log").open("wb")
    collect = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "collect", "eve", str(eve)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while counted(store) < EVENTS // 5:
            assert collect.poll() is None, (tmp_path / "collect.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the ingest did not get going"
            time.sleep(1)
        subprocess.run([str(REPO / "scripts/engine.sh"), "kill-node", name, "1"], check=True)
        killed_at = counted(store)
        assert collect.wait(timeout=1800) == 0, (tmp_path / "collect.log").read_text()[-3000:]
    finally:
        if collect.poll() is None:
            collect.kill()
    assert killed_at < EVENTS, "the node died while events were still arriving"
    store.refresh()
    assert store.count() == EVENTS
    subprocess.run([str(REPO / "scripts/engine.sh"), "start-node", name, "1"], check=True)
    # the query string, not params: the client takes a "timeout" param for its own
    health = client.request("GET", "/_cluster/health?wait_for_status=green&timeout=120s")
    assert health["status"] == "green" and health["number_of_nodes"] == 3
    store.refresh()
    assert store.count() == EVENTS
    client.close()
