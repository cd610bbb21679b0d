"""The scenario library, the baseline, the range's plan and its router ruleset (no root)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from cityrange.baseline import load_baseline
from cityrange.firewall import router_ruleset
from cityrange.library import check_against, load_library, resolve
from cityrange.plan import make_plan
from citysoc.core.errors import RangeError
from citysoc.core.topology import INTERNET, Topology
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog


@pytest.fixture(scope="module")
def generating_rules() -> set[str]:
    return {rule.name for rule in compile_catalog(load_catalog()).rules}


def test_library_covers_the_city_with_real_rules(
    topology: Topology, generating_rules: set[str]
) -> None:
    scenarios = load_library()
    assert len(scenarios) >= 30
    assert len({s.id for s in scenarios}) == len(scenarios)
    check_against(topology, scenarios, generating_rules)  # every expected rule raises alerts
    techniques = {s.technique for s in scenarios}
    assert {"T0855", "T0814", "T0888", "T0869"} <= techniques  # ICS: Modbus and DNP3
    assert {"T1190", "T1110.001", "T1046", "T1021.002", "T1048.003", "T1496"} <= techniques
    assert any(s.attacker == INTERNET for s in scenarios)
    assert sum(s.critical for s in scenarios) >= 10


def test_an_expected_rule_that_does_not_exist_is_refused(topology: Topology) -> None:
    scenario = load_library()[0].model_copy(update={"expected_rules": ["no_such_rule"]})
    with pytest.raises(RangeError, match="no_such_rule"):
        check_against(topology, [scenario], {"initial_access_hikvision_cve_2021_36260"})


def test_a_bad_scenario_file_names_the_file_and_record(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("- {id: x-y, title: t, technique: T1190, attacker: ioc}\n")
    with pytest.raises(RangeError, match=r"bad\.yml, record 1"):
        load_library(tmp_path)


def test_plan_gives_each_scenario_its_own_address_in_its_segment(topology: Topology) -> None:
    scenarios, baseline = load_library(), load_baseline()
    plan = make_plan(topology, scenarios, baseline.hosts())
    addresses = list(plan.attackers.values())
    assert len(set(addresses)) == len(scenarios)
    named = {str(h.address) for h in topology.model.hosts}
    for scenario in scenarios:
        address = plan.attackers[scenario.id]
        assert address not in named
        network = ipaddress.ip_network(plan.segments[scenario.attacker])
        assert ipaddress.ip_address(address) in network
    assert all(netns.startswith("crg-") for netns in plan.hosts)
    every = [a for host in plan.hosts.values() for a in host.addresses]
    assert len(every) == len(set(every))  # no address in two namespaces
    for scenario in scenarios:  # every victim has a namespace
        plan.netns_of(resolve(topology, scenario.victim))
    assert baseline.simulated_hours >= 1


def test_router_forwards_exactly_the_allowed_flows(topology: Topology) -> None:
    rules = router_ruleset(topology)
    forward = rules[rules.index("chain forward") :]
    assert "policy drop;" in forward
    assert "ip saddr 0.0.0.0/0 ip daddr 10.10.0.0/24 tcp dport { 443 } accept" in forward
    assert "ip saddr 10.20.0.30/32 ip daddr 10.40.0.0/24 tcp dport { 502 } accept" in forward
    into_plcs = [line for line in forward.splitlines() if "daddr 10.40.0.0/24" in line]
    assert len(into_plcs) == 1  # only the SCADA server reaches the flood-control PLCs
