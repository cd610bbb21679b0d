"""The Pulumi program under Pulumi's mocks: components, rules, ports, instances, inventory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from citysoc.core.topology import Topology
from infra.offline import OfflinePlan, PlannedResource, run_offline, stack_config_file

NETWORK = "openstack:networking/network:Network"
PORT = "openstack:networking/port:Port"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
INTERFACE = "openstack:networking/routerInterface:RouterInterface"


@pytest.fixture(scope="module")
def plan() -> OfflinePlan:
    return run_offline("hcmc-demo", stack_config_file("hcmc-demo"))


def of_type(plan: OfflinePlan, kind: str) -> Iterator[PlannedResource]:
    return (r for r in plan.resources if r.type == kind)


def by_name(plan: OfflinePlan, name: str) -> PlannedResource:
    return next(r for r in plan.resources if r.name == name)


def test_one_component_per_segment_with_its_children(plan: OfflinePlan, topology: Topology) -> None:
    components = {r.name for r in of_type(plan, "citysoc:network:CitySegment")}
    assert components == set(topology.segments)
    subnet = by_name(plan, "dc-db-subnet")
    assert subnet.parent.endswith("CitySegment::dc-db")
    assert subnet.props["cidr"] == "10.10.2.0/24" and subnet.props["gatewayIp"] == "10.10.2.1"


def test_camera_segments_are_vlan_provider_networks(plan: OfflinePlan, topology: Topology) -> None:
    for network in of_type(plan, NETWORK):
        segment = topology.segments[network.props["name"]]
        if segment.kind == "camera":
            (provider,) = network.props["segments"]
            assert provider["networkType"] == "vlan"
            assert provider["segmentationId"] == segment.vlan
            assert provider["physicalNetwork"] == "physnet-cameras"
        else:
            assert "segments" not in network.props


def test_security_groups_hold_exactly_the_allowed_flows(plan: OfflinePlan) -> None:
    cam_rules = {
        (
            r.props["direction"],
            r.props["protocol"],
            r.props["portRangeMin"],
            r.props["remoteIpPrefix"],
        )
        for r in of_type(plan, RULE)
        if r.props["securityGroupId"] == "cam-d1-sg-id"
    }
    assert cam_rules == {
        ("ingress", "tcp", 554, "10.20.0.10/32"),
        ("ingress", "tcp", 80, "10.20.0.10/32"),
        ("egress", "udp", 123, "10.50.0.11/32"),
        ("egress", "udp", 514, "10.50.0.11/32"),
    }
    groups = list(of_type(plan, "openstack:networking/secGroup:SecGroup"))
    assert groups and all(g.props["deleteDefaultRules"] for g in groups)
    open_rules = [r.name for r in of_type(plan, RULE) if r.props["remoteIpPrefix"] == "0.0.0.0/0"]
    assert open_rules == ["dc-dmz-in-tcp-443-internet"]


def test_sensor_ports_have_no_port_security(plan: OfflinePlan, topology: Topology) -> None:
    mirrors = [p for p in of_type(plan, PORT) if "mirror" in p.name]
    expected = {(h.name, s) for h in topology.soc_hosts() for s in h.monitors}
    assert {(p.name.split("-mirror-")[0], p.name.split("-mirror-")[1]) for p in mirrors} == expected
    for port in mirrors:
        assert port.props["portSecurityEnabled"] is False and port.props["noSecurityGroups"]
        assert "role=sensor" in port.props["tags"]


def test_only_the_dmz_sits_on_the_edge_router(plan: OfflinePlan) -> None:
    edge = [i.name for i in of_type(plan, INTERFACE) if i.props["routerId"] == "city-edge-id"]
    assert edge == ["dc-dmz-edge-if"]
    assert by_name(plan, "dc-dmz-core-port").props["fixedIps"][0]["ipAddress"] == "10.10.0.2"
    assert by_name(plan, "city-edge").props["externalNetworkId"] == "public-network-id"
    assert "externalNetworkId" not in by_name(plan, "city-core").props


def test_soc_hosts_are_instances_with_cloud_init(plan: OfflinePlan, topology: Topology) -> None:
    instances = {i.props["name"]: i for i in of_type(plan, "openstack:compute/instance:Instance")}
    assert set(instances) == {h.name for h in topology.soc_hosts()}
    sensor = instances["soc-sensor-02"]
    assert sensor.props["flavorName"] == "m1.large"
    assert len(sensor.props["networks"]) == 1 + len(topology.hosts["soc-sensor-02"].monitors)
    data = sensor.props["userData"]
    assert data.startswith("#cloud-config\n")
    cloud = yaml.safe_load(data)
    assert cloud["hostname"] == "soc-sensor-02" and cloud["ssh_pwauth"] is False
    assert cloud["ntp"]["servers"] == ["10.50.0.10"]


def test_inventory_output_groups_hosts_by_role(plan: OfflinePlan) -> None:
    children = plan.inventory["all"]["children"]
    assert set(children) == {"sensors", "collectors", "event_store", "soc_api", "bastion"}
    collector = children["collectors"]["hosts"]["soc-collector-02"]
    assert collector["ansible_host"] == "10.50.0.11"
    assert collector["openstack_instance_id"] == "soc-collector-02-vm-id"
    assert {s["id"] for s in collector["collector_segments"]} == {"cam-d1", "cam-tanbinh"}
    sources = {r["from"] for r in collector["nftables_input"]}
    assert {"10.31.0.0/22", "10.32.0.0/21", "10.60.0.5/32"} <= sources
    assert "ansible_ssh_common_args" not in children["bastion"]["hosts"]["bastion-01"]


def test_tags_name_agency_segment_and_level(plan: OfflinePlan) -> None:
    tagged = [r for r in plan.resources if "tags" in r.props]
    assert len(tagged) > 40
    for resource in tagged:
        keys = {t.split("=")[0] for t in resource.props["tags"]}
        assert {"agency", "segment", "level"} <= keys, resource.name
