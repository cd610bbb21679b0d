"""The topology's infrastructure facts: tiers, systems, SOC hosts and the segmentation rules."""

from ipaddress import ip_network
from pathlib import Path

import pytest

from citysoc.core.errors import TopologyError
from citysoc.core.topology import SOC_ROLES, Topology, load_topology


def test_data_centre_tiers_vlans_and_systems(topology: Topology) -> None:
    tiers = {s.id: s.tier for s in topology.segments.values() if s.kind == "datacentre"}
    assert tiers == {"dc-dmz": "dmz", "dc-app": "app", "dc-db": "data"}
    assert all(s.vlan for s in topology.segments.values())
    for segment in topology.segments.values():
        assert segment.systems, segment.id
        assert max(s.security_level for s in segment.systems) == segment.security_level


def test_soc_hosts_cover_every_role_and_every_high_level_segment(topology: Topology) -> None:
    assert {h.role for h in topology.soc_hosts()} == set(SOC_ROLES)
    for segment in topology.segments.values():
        if segment.security_level >= 3:
            assert topology.sensors_of(segment.id), segment.id
    assert topology.collector_of("cam-d1") is not None
    assert topology.collector_of("cam-d1").name == "soc-collector-02"  # type: ignore[union-attr]


def test_flows_resolve_to_networks(topology: Topology) -> None:
    rtsp = next(iter(topology.flows_between("ioc", "cam-d1")))
    assert topology.source_network(rtsp) == ip_network("10.20.0.10/32")
    assert topology.destination_network(rtsp) == ip_network("10.31.0.0/22")
    https = next(iter(topology.flows_between("internet", "dc-dmz")))
    assert topology.source_network(https) == ip_network("0.0.0.0/0")


def test_host_flows_narrow_segment_flows(topology: Topology) -> None:
    segment_wide = topology.flows_into("soc")
    collector = topology.flows_into("soc", "soc-collector-02")
    assert not any(f.destination_host for f in segment_wide)
    assert {f.source for f in collector} >= {"cam-d1", "cam-tanbinh", "mgmt"}
    bastion = topology.flows_out_of("mgmt", "bastion-01")
    assert all(f.source_host in ("bastion-01", None) for f in bastion)
    # Segment-wide, a management host sends only its firewall drop lines to its collector.
    assert [(f.destination_host, f.protocol, f.ports) for f in topology.flows_out_of("mgmt")] == [
        ("soc-collector-01", "udp", (514,))
    ]
    assert set(topology.flows_out_of("mgmt")) <= set(bastion)


def test_ssh_comes_only_from_the_bastion(topology: Topology) -> None:
    for flow in topology.model.flows:
        if flow.protocol == "tcp" and 22 in flow.ports:
            assert topology.role_of(flow.source_host) == "bastion"


CITY = """
city: Test
agencies: [{id: aa, name: A}]
segments:
  - {id: cams, name: C, kind: camera, agency: aa, cidr: 10.1.0.0/24, vlan: 5, security_level: 2}
  - {id: soc, name: S, kind: soc, agency: aa, cidr: 10.2.0.0/24, security_level: 3}
  - {id: mgmt, name: M, kind: management, agency: aa, cidr: 10.3.0.0/24, security_level: 3}
hosts:
  - {name: col, address: 10.2.0.10, segment: soc, role: collector, serves: [cams]}
  - {name: other, address: 10.2.0.11, segment: soc, role: collector, serves: [mgmt]}
  - {name: jump, address: 10.3.0.5, segment: mgmt, role: bastion}
flows:
"""


def _load(tmp_path: Path, flows: str, city: str = CITY) -> Topology:
    path = tmp_path / "city.yml"
    path.write_text(city + flows)
    return load_topology(path)


def test_a_consistent_city_loads(tmp_path: Path) -> None:
    flows = (
        "  - {from: cams, to: soc, to_host: col, protocol: udp, ports: [123, 514],"
        " description: x}\n"
        "  - {from: mgmt, from_host: jump, to: soc, protocol: tcp, ports: [22], description: y}\n"
    )
    assert len(_load(tmp_path, flows).model.flows) == 2


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ("{from: mgmt, to: soc, protocol: tcp, ports: [22], description: x}", "bastion"),
        ("{from: cams, to: soc, to_host: col, protocol: tcp, ports: [80], description: x}", "NTP"),
        ("{from: cams, to: soc, protocol: udp, ports: [514], description: x}", "collector"),
        (
            "{from: cams, to: soc, to_host: other, protocol: udp, ports: [514], description: x}",
            "their",
        ),
        (
            "{from: mgmt, to: soc, to_host: col, protocol: udp, ports: [514], description: x}",
            "serve",
        ),
        ("{from: cams, to: internet, protocol: tcp, ports: [443], description: x}", "internet"),
        (
            "{from: mgmt, to: soc, to_host: jump, protocol: udp, ports: [1], description: x}",
            "not a host",
        ),
    ],
)
def test_segmentation_rules_are_enforced_on_load(tmp_path: Path, flow: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        _load(tmp_path, f"  - {flow}\n")


def test_role_fields_and_levels_are_checked(tmp_path: Path) -> None:
    none = "  []\n"
    with pytest.raises(TopologyError, match="only a sensor"):
        _load(tmp_path, none, CITY.replace("role: bastion", "role: bastion, monitors: [soc]"))
    with pytest.raises(TopologyError, match="unknown segments"):
        _load(tmp_path, none, CITY.replace("serves: [cams]", "serves: [nowhere]"))
    system = "systems: [{id: big, name: B, security_level: 4}]"
    with pytest.raises(TopologyError, match="highest system"):
        _load(tmp_path, none, CITY.replace("security_level: 2}", f"security_level: 2, {system}}}"))
    with pytest.raises(TopologyError, match="VLAN"):
        _load(tmp_path, none, CITY.replace("vlan: 5, ", ""))
    with pytest.raises(TopologyError, match="tier"):
        _load(tmp_path, none, CITY.replace("kind: soc,", "kind: soc, tier: dmz,"))
