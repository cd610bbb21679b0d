"""Each mandatory policy, called directly with passing and violating resources."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.offline import run_offline, stack_config_file
from infra.policy.evaluate import evaluate
from infra.policy.policies.ingress import no_internet_ingress
from infra.policy.policies.isolation import camera_ics_isolation
from infra.policy.policies.management import management_from_bastion
from infra.policy.policies.sensors import sensor_per_sensitive_segment
from infra.policy.policies.tagging import port_security_only_for_sensors, tagged_resources

NET = "openstack:networking/"
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def res(
    kind: str, name: str, deps: dict[str, PolicyResource] | None = None, **props: Any
) -> PolicyResource:
    resource = PolicyResource(kind, props, f"urn:{name}", name, OPTS, None, None, [], {})
    resource.property_dependencies = {k: [v] for k, v in (deps or {}).items()}
    return resource


def group(name: str, *tags: str, **props: Any) -> PolicyResource:
    props = {"deleteDefaultRules": True, **props}
    return res(f"{NET}secGroup:SecGroup", name, tags=list(tags), **props)


def rule(name: str, owner: PolicyResource, **props: Any) -> PolicyResource:
    defaults = {"direction": "ingress", "protocol": "tcp", "ethertype": "IPv4"}
    return res(
        f"{NET}secGroupRule:SecGroupRule", name, {"securityGroupId": owner}, **{**defaults, **props}
    )


def stack_violations(policy: Any, *resources: PolicyResource) -> list[str]:
    found: list[str] = []
    policy.validate(StackValidationArgs(list(resources)), lambda m, u=None: found.append(m))
    return found


def resource_violations(policy: Any, resource: PolicyResource) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource.resource_type, resource.props, resource.urn,
                                  resource.name, OPTS, None)  # fmt: skip
    policy.validate(args, lambda m, u=None: found.append(m))
    return found


DMZ = group("dmz-sg", "tier=dmz", "kind=datacentre")
APP = group("app-sg", "tier=app", "kind=datacentre")
CAMS = group("cam-sg", "kind=camera")


def test_https_from_the_internet_only_into_the_dmz() -> None:
    https = {"portRangeMin": 443, "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"}
    assert stack_violations(no_internet_ingress, rule("ok", DMZ, **https)) == []
    assert stack_violations(no_internet_ingress, rule("app", APP, **https))
    ssh = {**https, "portRangeMin": 22, "portRangeMax": 22}
    assert stack_violations(no_internet_ingress, rule("ssh", DMZ, **ssh))
    assert stack_violations(no_internet_ingress, rule("any", DMZ))  # no remote at all
    inside = {**ssh, "remoteIpPrefix": "10.60.0.5/32"}
    assert stack_violations(no_internet_ingress, rule("inside", APP, **inside)) == []


def test_cameras_and_ics_have_no_internet_route_and_only_specific_peers() -> None:
    subnet = res(f"{NET}subnet:Subnet", "cam-subnet", tags=["kind=camera"])
    core = res(f"{NET}router:Router", "core")
    edge = res(f"{NET}router:Router", "edge", externalNetworkId="public-id")
    on_core = res(
        f"{NET}routerInterface:RouterInterface", "if-core", {"subnetId": subnet, "routerId": core}
    )
    on_edge = res(
        f"{NET}routerInterface:RouterInterface", "if-edge", {"subnetId": subnet, "routerId": edge}
    )
    peer = rule("rtsp", CAMS, portRangeMin=554, portRangeMax=554, remoteIpPrefix="10.20.0.10/32")
    assert stack_violations(camera_ics_isolation, subnet, core, on_core, CAMS, peer) == []
    assert stack_violations(camera_ics_isolation, subnet, edge, on_edge)
    default = res(
        f"{NET}subnetRoute:SubnetRoute", "out", {"subnetId": subnet}, destinationCidr="0.0.0.0/0"
    )
    assert stack_violations(camera_ics_isolation, subnet, default)
    out = rule("out", CAMS, direction="egress", remoteIpPrefix="8.8.8.8/32")
    assert stack_violations(camera_ics_isolation, CAMS, out)
    loose = group("ics-sg", "kind=ics", deleteDefaultRules=False)
    assert stack_violations(camera_ics_isolation, loose)


def test_management_ports_only_from_the_bastion() -> None:
    bastion = res(
        f"{NET}port:Port",
        "bastion-port",
        tags=["role=bastion"],
        fixedIps=[{"ipAddress": "10.60.0.5"}],
    )
    ssh = {"portRangeMin": 22, "portRangeMax": 22}
    good = rule("ssh", APP, remoteIpPrefix="10.60.0.5/32", **ssh)
    assert stack_violations(management_from_bastion, bastion, good) == []
    wide = rule("ssh-wide", APP, remoteIpPrefix="10.60.0.0/24", **ssh)
    assert stack_violations(management_from_bastion, bastion, wide)
    every_port = rule("all", APP, remoteIpPrefix="10.20.0.0/24")  # no range covers 22
    assert stack_violations(management_from_bastion, bastion, every_port)
    snmp = rule(
        "snmp",
        APP,
        protocol="udp",
        portRangeMin=161,
        portRangeMax=161,
        remoteIpPrefix="10.1.0.0/16",
    )
    assert stack_violations(management_from_bastion, bastion, snmp)


def test_resources_carry_agency_segment_and_level() -> None:
    tagged = res(f"{NET}network:Network", "n", tags=["agency=dc", "segment=dc-db", "level=4"])
    assert resource_violations(tagged_resources, tagged) == []
    assert resource_violations(
        tagged_resources, res(f"{NET}network:Network", "n", tags=["agency=dc"])
    )
    bad_level = res(f"{NET}port:Port", "p", tags=["agency=dc", "segment=x", "level=7"])
    assert resource_violations(tagged_resources, bad_level)
    assert resource_violations(tagged_resources, res(f"{NET}secGroupRule:SecGroupRule", "r")) == []


def test_every_high_level_segment_has_a_sensor() -> None:
    network = res(f"{NET}network:Network", "db", tags=["segment=dc-db", "level=4"])
    low = res(f"{NET}network:Network", "cam", tags=["segment=cam-d1", "level=2"])
    mirror = res(
        f"{NET}port:Port", "m", tags=["segment=dc-db", "role=sensor"], portSecurityEnabled=False
    )
    assert stack_violations(sensor_per_sensitive_segment, network, low, mirror) == []
    assert stack_violations(sensor_per_sensitive_segment, network, low) == [
        "db: segment dc-db of level 4 has no sensor port (mirrored, port security off)"
    ]


def test_only_sensor_ports_turn_port_security_off() -> None:
    sensor = res(f"{NET}port:Port", "m", tags=["role=sensor"], portSecurityEnabled=False)
    other = res(f"{NET}port:Port", "p", tags=["role=collector"], portSecurityEnabled=False)
    assert resource_violations(port_security_only_for_sensors, sensor) == []
    assert resource_violations(port_security_only_for_sensors, other)


def test_the_demo_stack_passes_every_policy_and_a_broken_one_does_not() -> None:
    plan = run_offline("hcmc-demo", stack_config_file("hcmc-demo"))
    outcomes = evaluate(plan)
    assert len(outcomes) == 6 and all(o.mandatory for o in outcomes)
    assert [v for o in outcomes for v in o.violations] == []
    plan.resources = [r for r in plan.resources if "-mirror-dc-db" not in r.name]
    broken = {o.policy: len(o.violations) for o in evaluate(plan)}
    assert broken["sensor-per-sensitive-segment"] == 1


@pytest.mark.parametrize("prefix", ["0.0.0.0/0", "::/0"])
def test_both_address_families_count_as_the_internet(prefix: str) -> None:
    r = rule("r", APP, portRangeMin=8443, portRangeMax=8443, remoteIpPrefix=prefix)
    assert stack_violations(no_internet_ingress, r)
