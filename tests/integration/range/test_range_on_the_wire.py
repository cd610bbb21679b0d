"""A few scenarios of the library on the wire: namespaces, nftables router, live capture,
syslog, the SOC's detections, the score; and nothing of the range left afterwards.

The whole library takes about 90 s here (docs/range.md): one test plays it all, the others a
few scenarios each.
"""

from __future__ import annotations

import os
import shutil

import pytest

from cityrange.baseline import load_baseline
from cityrange.library import load_library
from cityrange.netns import range_namespaces
from cityrange.runner import run_range
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="the range builds network namespaces: root"),
    *[
        pytest.mark.skipif(shutil.which(tool) is None, reason=f"the range needs {tool}")
        for tool in ("ip", "tc", "nft", "tshark")
    ],
]

PLAYED = (
    "camera-hikvision-cve-2021-36260-urlencoded",  # an exploit's other encoding, in clear
    "dc-rdp-lateral-movement",  # dropped by the router, seen on the wire, two agencies
    "dc-ssh-brute-force-fast",  # seen through the server's syslog only
    "ics-modbus-write-register",
)


def test_scenarios_are_scored_on_the_wire(settings: Settings, topology: Topology) -> None:
    scenarios = [s for s in load_library() if s.id in PLAYED]
    notes: list[str] = []
    score = run_range(settings, topology, scenarios, load_baseline(), progress=notes.append)

    assert range_namespaces() == []  # nothing of the range is left
    results = {s.id: s for s in score.scenarios}
    assert set(results) == set(PLAYED)
    for result in results.values():
        assert result.detected, (result.id, notes)
        assert result.victim_told, result
        assert result.seconds_to_detect is not None and result.seconds_to_detect < 60
    rdp = results["dc-rdp-lateral-movement"]
    assert rdp.attacker_agency == "ioc" and rdp.victim_agency == "dc"
    assert {"ioc", "dc"} <= set(rdp.agencies_told) and rdp.attacker_told
    assert rdp.alerts == 1  # told to two agencies, still one alert per attack
    ssh = results["dc-ssh-brute-force-fast"]
    assert "credential_access_ssh_brute_force" in ssh.rules
    assert score.baseline.simulated_hours == 1.0
    assert score.baseline.alerts == 0, score.baseline.rules
    assert any("building the range" in note for note in notes)


def test_an_interrupted_run_leaves_nothing_behind(settings: Settings, topology: Topology) -> None:
    scenarios = [s for s in load_library() if s.id == "ics-modbus-write-register"]
    built: list[str] = []

    def interrupt(note: str) -> None:
        if note.startswith("baseline"):  # the network is up, responders and capture running
            built.extend(range_namespaces())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_range(settings, topology, scenarios, load_baseline(), progress=interrupt)
    assert "crg-router" in built and "crg-sensor" in built
    assert range_namespaces() == []


def test_the_whole_library_meets_the_gates_bars(settings: Settings, topology: Topology) -> None:
    """The whole library (about 1.5 minutes): every critical scenario passes, nearly all do,
    the benign hour raises nothing, and the incidents group the alerts by scenario (no wrong
    merge, no split, at most three alerts per attack, campaigns of one actor)."""
    notes: list[str] = []
    score = run_range(settings, topology, load_library(), load_baseline(), progress=notes.append)
    assert range_namespaces() == []
    failed = [(s.id, s.rules, s.agencies_told) for s in score.scenarios if not s.passed]
    assert score.critical[0] == score.critical[1], failed
    assert score.passed >= 0.95 * len(score.scenarios), failed
    assert score.baseline.alerts == 0, score.baseline.rules
    # the labelled correlation over the library: every scenario is one actor
    c = score.correlation
    assert c is not None
    assert c.wrong_merges == [] and c.splits == {} and c.ambiguous == [], c
    assert c.most_alerts_per_attack <= 3, c.over
    assert c.campaigns == c.campaigns_with_one_actor and c.campaigns >= 1, c
    assert c.actors == sum(1 for s in score.scenarios if s.rules)  # one actor per scenario
