"""``citysoc infra plan|inventory`` on the demo stack and on a stack that breaks a policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import infra.offline
from citysoc.cli.main import main
from infra.offline import stack_config_file

UNWATCHED_CITY = """
city: Unwatched
agencies: [{id: aa, name: A}]
segments:
  - {id: vault, name: V, kind: datacentre, tier: data, agency: aa, cidr: 10.9.0.0/24,
     vlan: 9, security_level: 4}
  - {id: mgmt, name: M, kind: management, agency: aa, cidr: 10.8.0.0/24, security_level: 2}
hosts:
  - {name: jump-01, address: 10.8.0.5, segment: mgmt, role: bastion}
flows:
  - {from: mgmt, from_host: jump-01, to: vault, protocol: tcp, ports: [22], description: ssh}
"""


def test_plan_prints_the_tree_and_passing_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "plan", "--stack", "hcmc-demo"]) == 0
    out = capsys.readouterr().out
    assert "citysoc:network:CitySegment  cam-d1" in out
    assert "openstack:compute/instance:Instance  soc-sensor-01-vm" in out
    assert "policies: 10 of 10 pass, 0 mandatory violations" in out
    assert "topology: " + str(Path("citysoc/core/cities/hcmc.yml").resolve()) in out


def test_plan_fails_on_a_mandatory_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    city = tmp_path / "city.yml"
    city.write_text(UNWATCHED_CITY)
    stack = tmp_path / "Pulumi.unwatched.yaml"
    stack.write_text(f"config:\n  citysoc:topology: {city}\n  citysoc:externalNetworkId: ext\n")
    monkeypatch.setattr(
        infra.offline, "stack_config_file", lambda name: stack_config_file(name, tmp_path)
    )
    assert main(["infra", "plan", "--stack", "unwatched"]) == 1
    captured = capsys.readouterr()
    assert "sensor-per-sensitive-segment    mandatory    FAIL (1)" in captured.out
    assert "segment vault of level 4 has no sensor port" in captured.err


def test_inventory_is_json_for_ansible(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "inventory", "--stack", "hcmc-demo"]) == 0
    inventory = json.loads(capsys.readouterr().out)
    assert (
        inventory["all"]["children"]["soc_api"]["hosts"]["soc-api-01"]["ansible_host"]
        == "10.50.0.40"
    )


def test_an_unknown_stack_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "plan", "--stack", "no-such-stack"]) == 2
    assert "no stack 'no-such-stack'" in capsys.readouterr().err


def test_the_topology_from_the_environment_wins_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    city = tmp_path / "unwatched.yml"
    city.write_text(UNWATCHED_CITY)
    monkeypatch.setenv("CITYSOC_TOPOLOGY_PATH", str(city))
    assert main(["infra", "plan", "--stack", "hcmc-demo"]) == 1  # its vault has no sensor
    captured = capsys.readouterr()
    assert f"topology: {city}" in captured.out
    assert "CITYSOC_TOPOLOGY_PATH, over the stack's citysoc:topology" in captured.err
    assert "citysoc:network:CitySegment  vault" in captured.out
    assert "cam-d1" not in captured.out


def test_a_broken_topology_is_an_error_not_a_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("city: Broken\nagencies: [\n")
    monkeypatch.setenv("CITYSOC_TOPOLOGY_PATH", str(broken))
    assert main(["infra", "plan", "--stack", "hcmc-demo"]) == 2
    captured = capsys.readouterr()
    assert f"{broken}, line 3" in captured.err and "invalid YAML" in captured.err
    assert "pass" not in captured.out
    unknown = tmp_path / "unknown-agency.yml"
    unknown.write_text(UNWATCHED_CITY.replace("agency: aa, cidr: 10.9", "agency: zz, cidr: 10.9"))
    monkeypatch.setenv("CITYSOC_TOPOLOGY_PATH", str(unknown))
    assert main(["infra", "inventory", "--stack", "hcmc-demo"]) == 2
    captured = capsys.readouterr()
    assert "unknown agency 'zz'" in captured.err and captured.out == ""


def test_a_bad_stack_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  citysoc:operatorCidr: everyone\n")
    monkeypatch.setattr(
        infra.offline, "stack_config_file", lambda name: stack_config_file(name, tmp_path)
    )
    assert main(["infra", "plan", "--stack", "bad"]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.bad.yaml" in err and "citysoc:operatorCidr" in err and "everyone" in err
