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
ROUTE = "openstack:networking/subnetRoute:SubnetRoute"


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


def test_only_the_dmz_and_the_soc_hosts_segments_sit_on_the_edge_router(plan: OfflinePlan) -> None:
    edge = [i.name for i in of_type(plan, INTERFACE) if i.props["routerId"] == "city-edge-id"]
    assert sorted(edge) == ["dc-dmz-edge-if", "mgmt-edge-if", "soc-edge-if"]
    assert by_name(plan, "dc-dmz-core-port").props["fixedIps"][0]["ipAddress"] == "10.10.0.2"
    # The SOC's segments reach the rest of the city through the core router, as the DMZ does.
    routes = {r.props["destinationCidr"] for r in of_type(plan, ROUTE) if r.name.startswith("soc-")}
    assert "10.31.0.0/22" in routes and "0.0.0.0/0" not in routes
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
    # The ops account is the default user: the one cloud-init gives the key pair's key.
    assert cloud["users"] == ["default"]
    assert cloud["system_info"]["default_user"]["name"] == "citysoc-ops"
    assert cloud["system_info"]["default_user"]["lock_passwd"] is True
    # No egress to the metadata service: cloud-init reads a config drive.
    assert sensor.props["configDrive"] is True


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


GROUP = "openstack:networking/secGroup:SecGroup"
DYNAMIC = "pulumi-python:dynamic:Resource"


def rules_of(plan: OfflinePlan, group_id: str) -> set[tuple[str, str, int, str]]:
    return {
        (
            r.props["direction"],
            r.props["protocol"],
            r.props["portRangeMin"],
            r.props["remoteIpPrefix"],
        )
        for r in of_type(plan, RULE)
        if r.props["securityGroupId"] == group_id
    }


def test_the_bastion_has_a_floating_ip_and_ssh_from_the_operators_only(plan: OfflinePlan) -> None:
    fip = by_name(plan, "bastion-01-fip")
    assert fip.props["pool"] == "public"
    association = by_name(plan, "bastion-01-fip-port")
    (port_urn,) = association.dependencies["portId"]
    assert port_urn.endswith("::bastion-01-port")
    port = by_name(plan, "bastion-01-port")
    assert port.props["securityGroupIds"] == ["mgmt-sg-id", "bastion-01-sg-id"]
    assert rules_of(plan, "bastion-01-sg-id") == {("ingress", "tcp", 22, "203.0.113.0/28")}
    assert by_name(plan, "bastion-01-sg").props["deleteDefaultRules"] is True


def test_every_port_of_every_segment_carries_a_security_group(
    plan: OfflinePlan, topology: Topology
) -> None:
    ports = {p.name: p for p in of_type(plan, PORT)}
    for port in ports.values():
        tags = set(port.props["tags"])
        if "role=router" in tags or port.props.get("portSecurityEnabled") is False:
            continue
        segment = next(t.split("=")[1] for t in tags if t.startswith("segment="))
        assert f"{segment}-sg-id" in port.props["securityGroupIds"], port.name
    # The city's own hosts get ports too (their agencies boot on them), cameras do not: they
    # are physical devices on a VLAN provider network.
    for name in ("portal-01", "ioc-vms-01", "dc-app-01", "plc-pump-01", "soc-resolver-01"):
        assert ports[f"{name}-port"].props["securityGroupIds"]
    assert "cam-q1-0011-port" not in ports and "nvr-tanbinh-01-port" not in ports


def test_security_groups_allow_dns_time_and_packages_and_nothing_wider(plan: OfflinePlan) -> None:
    soc = rules_of(plan, "soc-sg-id")
    assert {
        ("egress", "udp", 53, "10.50.0.53/32"),
        ("egress", "tcp", 53, "10.50.0.53/32"),
        ("egress", "udp", 123, "10.50.0.10/32"),
        ("egress", "udp", 123, "10.60.0.8/32"),
        ("egress", "tcp", 3142, "10.60.0.8/32"),
        ("egress", "tcp", 9200, "10.50.0.30/32"),
        ("ingress", "udp", 53, "10.60.0.0/24"),
        ("ingress", "udp", 123, "10.60.0.0/24"),
    } <= soc
    mgmt = rules_of(plan, "mgmt-sg-id")
    assert ("ingress", "tcp", 3142, "10.50.0.0/24") in mgmt
    assert ("egress", "tcp", 3142, "10.60.0.8/32") in mgmt
    assert not any(
        r.props["remoteIpPrefix"] == "0.0.0.0/0" and r.props["direction"] == "egress"
        for r in of_type(plan, RULE)
    )


def test_cloud_init_installs_through_the_package_source(plan: OfflinePlan) -> None:
    instance = by_name(plan, "soc-store-01-vm")
    cloud = yaml.safe_load(instance.props["userData"])
    assert cloud["apt"] == {
        "http_proxy": "http://10.60.0.8:3142",
        "https_proxy": "http://10.60.0.8:3142",
    }
    collector = yaml.safe_load(by_name(plan, "soc-collector-01-vm").props["userData"])
    assert collector["ntp"]["servers"] == ["10.60.0.8"]  # upstream for the collector itself


def test_sensors_are_fed_by_tap_services_and_declared_spans(
    plan: OfflinePlan, topology: Topology
) -> None:
    dynamic = list(of_type(plan, DYNAMIC))
    services = {r.name: r for r in dynamic if r.props["mirror"] == "tap-service"}
    flows = [r for r in dynamic if r.props["mirror"] == "tap-flow"]
    for sensor in (h for h in topology.soc_hosts() if h.role == "sensor"):
        for seg in sensor.monitors:
            mirror = by_name(plan, f"{sensor.name}-mirror-{seg}")
            if topology.segments[seg].kind == "camera":
                assert "mirror=span" in mirror.props["tags"]
                assert mirror.props["description"].startswith("switch SPAN: ")
                assert f"{sensor.name}-tap-{seg}" not in services
                continue
            service = services[f"{sensor.name}-tap-{seg}"]
            assert service.dependencies["port_id"] == (mirror.urn,)
            assert service.props["port_id"] == f"{mirror.name}-id"
            copied = {
                f.props["source_port"] for f in flows if f.props["tap_service_id"] == service.id
            }
            in_segment = {
                p.id
                for p in of_type(plan, PORT)
                if f"segment={seg}" in p.props["tags"]
                and p.props.get("portSecurityEnabled") is not False
                and "role=router" not in p.props["tags"]
                and p.name != f"{sensor.name}-port"  # not its own shipping
            }
            assert copied == in_segment, seg
    assert all(f.props["direction"] == "BOTH" and f.props["cloud"] == "city-cloud" for f in flows)
    assert len(services) == 8 and len(flows) == 14


def test_inventory_jumps_through_the_bastion_and_names_the_package_source(
    plan: OfflinePlan, topology: Topology
) -> None:
    everyone = plan.inventory["all"]
    assert everyone["vars"]["citysoc_package_source"] == {"proxy": "http://10.60.0.8:3142"}
    bastion = everyone["children"]["bastion"]["hosts"]["bastion-01"]
    assert bastion["baseline_ssh_allowed_from"] == ["203.0.113.0/28"]
    assert {
        "protocol": "tcp",
        "ports": [22],
        "from": "203.0.113.0/28",
        "family": "ip",
        "description": "Operators reach the bastion over SSH",
    } in bastion["nftables_input"]
    store = everyone["children"]["event_store"]["hosts"]["soc-store-01"]
    assert store["ansible_ssh_common_args"] == "-o ProxyJump=citysoc-ops@10.60.0.5"
    assert {"tcp:3142:10.60.0.8/32", "udp:53:10.50.0.53/32", "udp:123:10.50.0.10/32"} <= {
        f"{r['protocol']}:{r['ports'][0]}:{r['to']}" for r in store["nftables_output"]
    }


def test_inventory_uses_the_floating_ip_once_the_stack_has_one(topology: Topology) -> None:
    from infra.inventory import inventory
    from infra.stackconfig import StackConfig

    config = StackConfig.model_validate({"operatorCidr": "198.51.100.0/24"})
    found = inventory(topology, None, config, public_bastion="192.0.2.15")["all"]["children"]
    assert found["bastion"]["hosts"]["bastion-01"]["ansible_host"] == "192.0.2.15"
    api = found["soc_api"]["hosts"]["soc-api-01"]
    assert api["ansible_host"] == "10.50.0.40"
    assert api["ansible_ssh_common_args"] == "-o ProxyJump=citysoc-ops@192.0.2.15"
