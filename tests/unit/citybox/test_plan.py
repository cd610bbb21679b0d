"""The box's layout from the example city and its inventory (pure data, no root)."""

import copy
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from citybox.converge import box_inventory, router_inventory
from citybox.plan import CORE_NS, EDGE_NS, INTERNET_HOST, make_plan, mirror_interface
from citysoc.core.errors import BoxError
from citysoc.core.topology import INTERNET, Topology, load_topology
from infra.inventory import inventory, router_vars

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def city() -> tuple[Topology, dict[str, Any]]:
    topology = load_topology(REPO / "citysoc/core/cities/hcmc.yml")
    return topology, inventory(topology)


def test_every_soc_host_of_the_inventory_and_city_hosts(
    city: tuple[Topology, dict[str, Any]],
) -> None:
    topology, found = city
    plan = make_plan("t", topology, found)
    names = {h.name for h in plan.hosts}
    soc = {n for g in found["all"]["children"].values() for n in (g.get("hosts") or {})}
    assert soc <= names
    assert {h.name for h in plan.hosts if h.soc} == soc
    assert {"portal-01", "ioc-vms-01", "cam-q1-0011", "plc-pump-01", INTERNET_HOST} <= names
    for host in plan.hosts:
        if host.segment != INTERNET:
            cidr = ipaddress.ip_network(topology.segments[host.segment].cidr)
            assert ipaddress.ip_interface(host.address).ip in cidr, host


def test_routers_as_the_cloud_lays_them_out(city: tuple[Topology, dict[str, Any]]) -> None:
    plan = make_plan("t", *city)
    core = next(r for r in plan.routers if r.netns == CORE_NS)
    edge = next(r for r in plan.routers if r.netns == EDGE_NS)
    assert {leg.segment for leg in edge.legs} == {INTERNET, "dc-dmz"}
    assert {leg.segment for leg in core.legs} == set(plan.segments) - {INTERNET}
    # the core's only way out is the edge; the edge has no default route at all
    assert core.routes == (("default", "10.10.0.1"),)
    assert all(dest != "default" for dest, _ in edge.routes)
    assert all(via == "10.10.0.2" for _, via in edge.routes)
    portal = plan.host("portal-01")
    assert portal.gateway == "10.10.0.1"
    assert ("10.50.0.0/24", "10.10.0.2") in portal.routes


def test_operator_address_is_free_in_the_bastion_segment(
    city: tuple[Topology, dict[str, Any]],
) -> None:
    topology, found = city
    plan = make_plan("t", topology, found)
    assert plan.operator_segment == "mgmt"
    taken = {str(h.address) for h in topology.model.hosts}
    assert plan.operator_ip not in taken
    assert ipaddress.ip_address(plan.operator_ip) in ipaddress.ip_network("10.60.0.0/24")


def test_sensors_get_a_mirror_interface_per_watched_segment(
    city: tuple[Topology, dict[str, Any]],
) -> None:
    plan = make_plan("t", *city)
    sensor = plan.host("soc-sensor-02")
    assert "cam-d1" in sensor.mirrors
    assert all(len(mirror_interface(s)) <= 15 for s in plan.segments)


def test_no_bastion_is_refused(city: tuple[Topology, dict[str, Any]]) -> None:
    topology, found = city
    without = {"all": {"children": {"soc_api": found["all"]["children"]["soc_api"]}}}
    with pytest.raises(BoxError, match="no bastion"):
        make_plan("t", topology, without)


def test_box_inventory_overlays_only_what_differs(
    city: tuple[Topology, dict[str, Any]], tmp_path: Path
) -> None:
    topology, found = city
    plan = make_plan("t", topology, found)
    before = copy.deepcopy(found)
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n"
    box = box_inventory(plan, found, tmp_path / "ssh_config", engine=True, apt_key=key)
    everyone = box["all"]["vars"]
    assert everyone["citysoc_package_source"]["apt"] == f"http://{plan.operator_ip}:8088/apt"
    assert everyone["citysoc_package_source"]["apt_key"] == key
    assert everyone["citysoc_package_source"]["wheels"] == f"http://{plan.operator_ip}:8088/wheels"
    assert everyone["citysoc_package_source"]["engine"].endswith(".tar.gz")
    hosts = {
        n: v for g in box["all"]["children"].values() for n, v in (g.get("hosts") or {}).items()
    }
    bastion = hosts["bastion-01"]
    assert plan.operator_ip in bastion["baseline_ssh_allowed_from"]
    assert bastion["nftables_extra_input"][0]["from"] == f"{plan.operator_ip}/32"
    api = hosts["soc-api-01"]
    assert api["ansible_ssh_common_args"].startswith(f"-F {tmp_path / 'ssh_config'}")
    assert "ProxyJump" in api["ansible_ssh_common_args"]
    sensor = hosts["soc-sensor-01"]
    assert sensor["suricata_sensor_engine"] == "citysoc"
    assert sensor["suricata_sensor_interfaces"][0] == "mon-dc-dmz"
    # the stack's inventory itself is left untouched
    assert found == before


def test_routers_run_the_nftables_role_inside_their_namespace(
    city: tuple[Topology, dict[str, Any]], tmp_path: Path
) -> None:
    topology, found = city
    plan = make_plan("t", topology, found)
    routers = router_inventory(plan, router_vars(topology), tmp_path)["all"]["children"][
        "box_routers"
    ]["hosts"]
    assert set(routers) == {"core", "edge"}
    wrapper = Path(routers["core"]["ansible_python_interpreter"]).read_text()
    assert f"ip netns exec {CORE_NS} python3" in wrapper
    assert routers["core"]["nftables_forward"][-1]["to"] == f"{plan.operator_ip}/32"
    assert routers["core"]["nftables_rules_path"].startswith(str(tmp_path))
