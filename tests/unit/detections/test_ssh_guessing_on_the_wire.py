"""SSH guessing seen only on the wire, from capture to alert: crafted SSH connections go
through the packet engine and the enricher into the embedded store, and the catalog's rules
run on them as the detection schedule does."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

from citysoc.core.ecs import Event
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors.enrich import Enricher
from collectors.packets.pcap import read_pcap
from collectors.stats import CollectorStats
from detections.engine.baseline import check_baseline
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from scenarios import sshcraft
from scenarios.packetcraft import Capture, tcp_conversation

START = 1_795_660_000.0
GUESSER = "203.0.113.77"
TARGETS = ("10.10.0.20", "10.10.1.5")  # a data-centre server and a district one
RULE = "credential_access_ssh_failed_logins_on_the_wire"


def wire_events(tmp_path: Path, *, success: bool, connections: int, every: float) -> list[Event]:
    rng = random.Random(11)
    cap = Capture()
    for n in range(connections):
        turns = sshcraft.handshake(rng, client_banner=b"SSH-2.0-libssh_0.9.6")
        turns += sshcraft.password_login(rng, 2, success=success)
        client, server = (GUESSER, 40000 + n), (TARGETS[n % 2], 22)
        cap.add(tcp_conversation(client, server, START + n * every, turns, rng=rng))
    path = tmp_path / "guessing.pcap"
    cap.write(path)
    stats = CollectorStats()
    enrich = Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")
    events = [enrich(e) for e in read_pcap(path, stats)]
    assert stats.errors == {}
    return events


@cache
def rules():  # type: ignore[no-untyped-def]
    compiled = compile_catalog(load_catalog())
    assert compiled.errors == []
    return compiled.rules


def hits(events: list[Event]) -> set[str]:
    return set(check_baseline(events, rules(), {}).hits)


def test_failed_logins_to_two_hosts_raise_the_wire_guessing_alert(tmp_path: Path) -> None:
    events = wire_events(tmp_path, success=False, connections=6, every=40.0)
    guesses = [e for e in events if e.get("event.action") == "ssh_authentication"]
    assert [e["event.outcome"] for e in guesses] == ["failure"] * 6
    assert RULE in hits(events)


def test_successful_sessions_or_slow_failures_stay_quiet(tmp_path: Path) -> None:
    logins = wire_events(tmp_path, success=True, connections=6, every=40.0)
    assert {e["event.outcome"] for e in logins if e["event.action"] == "ssh_authentication"} == {
        "success"
    }
    assert RULE not in hits(logins)
    slow = wire_events(tmp_path, success=False, connections=6, every=900.0)
    assert RULE not in hits(slow)
