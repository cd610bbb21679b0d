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
from infra.policy.policies.access import (
    public_address_only_on_bastion,
    security_group_on_every_port,
)
from infra.policy.policies.ingress import no_internet_ingress
from infra.policy.policies.isolation import camera_ics_isolation
from infra.policy.policies.management import management_from_bastion
from infra.policy.policies.mirrors import declared_mirrors
from infra.policy.policies.sensors import sensor_per_sensitive_segment
from infra.policy.policies.tagging import port_security_only_for_sensors, tagged_resources

NET = "openstack:networking/"
DYNAMIC = "pulumi-python:dynamic:Resource"
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


def test_every_high_level_segment_has_a_fed_sensor_port() -> None:
    network = res(f"{NET}network:Network", "db", tags=["segment=dc-db", "level=4"])
    low = res(f"{NET}network:Network", "cam", tags=["segment=cam-d1", "level=2"])
    mirror = res(
        f"{NET}port:Port", "m", tags=["segment=dc-db", "role=sensor"], portSecurityEnabled=False
    )
    service = res(DYNAMIC, "tap", {"port_id": mirror}, mirror="tap-service", segment="dc-db")
    assert stack_violations(sensor_per_sensitive_segment, network, low, mirror, service) == []
    unfed = (
        "db: segment dc-db of level 4 has no sensor port fed by a mirror (tap service or "
        "switch SPAN)"
    )
    assert stack_violations(sensor_per_sensitive_segment, network, low, mirror) == [unfed]
    assert stack_violations(sensor_per_sensitive_segment, network, low) == [unfed]


def test_only_sensor_ports_turn_port_security_off() -> None:
    sensor = res(f"{NET}port:Port", "m", tags=["role=sensor"], portSecurityEnabled=False)
    other = res(f"{NET}port:Port", "p", tags=["role=collector"], portSecurityEnabled=False)
    assert resource_violations(port_security_only_for_sensors, sensor) == []
    assert resource_violations(port_security_only_for_sensors, other)


def test_the_demo_stack_passes_every_policy_and_a_broken_one_does_not() -> None:
    plan = run_offline("hcmc-demo", stack_config_file("hcmc-demo"))
    outcomes = evaluate(plan)
    assert len(outcomes) == 10 and all(o.mandatory for o in outcomes)
    assert [v for o in outcomes for v in o.violations] == []
    plan.resources = [r for r in plan.resources if "-mirror-dc-db" not in r.name]
    broken = {o.policy: len(o.violations) for o in evaluate(plan)}
    assert broken["sensor-per-sensitive-segment"] == 1


@pytest.mark.parametrize("prefix", ["0.0.0.0/0", "::/0"])
def test_both_address_families_count_as_the_internet(prefix: str) -> None:
    r = rule("r", APP, portRangeMin=8443, portRangeMax=8443, remoteIpPrefix=prefix)
    assert stack_violations(no_internet_ingress, r)


BASTION_SG = group("bastion-sg", "role=bastion", "segment=mgmt")
BASTION_PORT = res(
    f"{NET}port:Port",
    "bastion-port",
    tags=["role=bastion", "segment=mgmt"],
    fixedIps=[{"ipAddress": "10.60.0.5"}],
    securityGroupIds=["mgmt", "b"],
)
SSH = {"portRangeMin": 22, "portRangeMax": 22}


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("203.0.113.0/28", True),
        ("198.51.0.0/16", True),
        ("10.0.0.0/8", False),
        ("0.0.0.0/0", False),
        ("2001:db8::/48", True),
        ("::/0", False),
    ],
)
def test_the_bastion_takes_ssh_only_from_a_specific_operator_network(
    prefix: str, allowed: bool
) -> None:
    operators = rule("ops", BASTION_SG, remoteIpPrefix=prefix, **SSH)
    assert (stack_violations(management_from_bastion, BASTION_PORT, operators) == []) is allowed
    # The same prefix into any other group is refused: only the bastion takes operators' SSH.
    elsewhere = rule("ops-app", APP, remoteIpPrefix=prefix, **SSH)
    assert stack_violations(management_from_bastion, BASTION_PORT, elsewhere)
    # RDP is never an operator's way in, even to the bastion.
    rdp = rule("rdp", BASTION_SG, remoteIpPrefix=prefix, portRangeMin=3389, portRangeMax=3389)
    assert stack_violations(management_from_bastion, BASTION_PORT, rdp)


def test_whole_internet_ssh_to_the_bastion_is_refused_twice() -> None:
    anywhere = rule("ops", BASTION_SG, remoteIpPrefix="0.0.0.0/0", **SSH)
    assert stack_violations(no_internet_ingress, anywhere)
    assert stack_violations(management_from_bastion, BASTION_PORT, anywhere)


def test_floating_ips_only_on_the_bastion_which_has_one_and_takes_ssh() -> None:
    fip = res(f"{NET}floatingIpAssociate:FloatingIpAssociate", "fip", {"portId": BASTION_PORT})
    ssh = rule("ops", BASTION_SG, remoteIpPrefix="203.0.113.0/28", **SSH)
    policy = public_address_only_on_bastion
    assert stack_violations(policy, BASTION_PORT, fip, BASTION_SG, ssh) == []
    assert stack_violations(policy, BASTION_PORT, BASTION_SG, ssh) == [
        "the bastion has no floating IP: operators cannot reach it"
    ]
    assert stack_violations(policy, BASTION_PORT, fip, BASTION_SG) == [
        "the bastion takes SSH from no operator network: set citysoc:operatorCidr"
    ]
    api = res(f"{NET}port:Port", "api-port", tags=["role=soc-api"])
    exposed = res(f"{NET}floatingIpAssociate:FloatingIpAssociate", "fip-api", {"portId": api})
    assert stack_violations(policy, BASTION_PORT, fip, exposed, BASTION_SG, ssh) == [
        "fip-api: a floating IP on api-port, not the bastion"
    ]


def test_every_port_has_a_security_group_except_mirrors_and_routers() -> None:
    policy = security_group_on_every_port
    assert resource_violations(policy, BASTION_PORT) == []
    bare = res(f"{NET}port:Port", "portal-port", tags=["role=web"])
    assert resource_violations(policy, bare) == ["portal-port: a port without a security group"]
    empty = res(f"{NET}port:Port", "p", tags=["role=web"], securityGroupIds=[])
    assert resource_violations(policy, empty)
    router = res(f"{NET}port:Port", "core-port", tags=["role=router"])
    mirror = res(f"{NET}port:Port", "m", tags=["role=sensor"], portSecurityEnabled=False)
    assert resource_violations(policy, router) == resource_violations(policy, mirror) == []


def test_every_mirror_port_is_fed_and_every_tapped_port_copied() -> None:
    mirror = res(
        f"{NET}port:Port",
        "s1-mirror-app",
        tags=["role=sensor", "segment=dc-app"],
        portSecurityEnabled=False,
    )
    app = res(f"{NET}port:Port", "app-port", tags=["role=app", "segment=dc-app"])
    other = res(f"{NET}port:Port", "db-port", tags=["role=db", "segment=dc-db"])
    service = res(DYNAMIC, "tap", {"port_id": mirror}, mirror="tap-service", segment="dc-app")
    flow = res(
        DYNAMIC,
        "flow",
        {"source_port": app, "tap_service_id": service},
        mirror="tap-flow",
        segment="dc-app",
    )
    assert stack_violations(declared_mirrors, mirror, app, other, service, flow) == []
    assert stack_violations(declared_mirrors, mirror, app, other, service) == [
        "app-port: not copied to tap (no tap flow)"
    ]
    own = res(f"{NET}port:Port", "s1-port", tags=["role=sensor", "host=s1", "segment=dc-app"])
    service.props["sensor"] = "s1"
    assert stack_violations(declared_mirrors, mirror, app, own, service, flow) == []
    assert stack_violations(declared_mirrors, mirror, app) == [
        "s1-mirror-app: a sensor mirror port that nothing feeds (no tap service on it, "
        "no switch SPAN declared in citysoc:switchSpans)"
    ]


def test_a_camera_vlan_mirror_needs_a_declared_span() -> None:
    def port(**props: Any) -> PolicyResource:
        return res(f"{NET}port:Port", "s2-mirror-cam", portSecurityEnabled=False, **props)

    spanned = port(tags=["role=sensor", "mirror=span"], description="switch SPAN: sw1 session 1")
    assert stack_violations(declared_mirrors, spanned) == []
    assert stack_violations(
        declared_mirrors, port(tags=["role=sensor", "mirror=span"], description="switch SPAN: ")
    )
    assert stack_violations(declared_mirrors, port(tags=["role=sensor"]))


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"citysoc:operatorCidr": "0.0.0.0/0"}, {"no-internet-ingress", "management-from-bastion"}),
        ({"citysoc:operatorCidr": None}, {"public-address-only-on-bastion"}),
        ({"citysoc:switchSpans": None}, {"declared-mirrors"}),
    ],
)
def test_the_demo_stack_with_a_bad_setting_fails_its_policy(
    change: dict[str, str | None], failing: set[str]
) -> None:
    config = stack_config_file("hcmc-demo")
    for key, value in change.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    outcomes = evaluate(run_offline("hcmc-demo", config))
    assert {o.policy for o in outcomes if o.violations} == failing


def test_mirrors_are_matched_by_id_when_no_dependency_is_recorded() -> None:
    mirror = res(f"{NET}port:Port", "m", tags=["role=sensor", "segment=ioc"],
                 portSecurityEnabled=False, id="port-m")  # fmt: skip
    vms = res(f"{NET}port:Port", "vms", tags=["role=vms", "segment=ioc"], id="port-v")
    service = res(DYNAMIC, "tap", port_id="port-m", mirror="tap-service", segment="ioc", id="ts")
    flow = res(DYNAMIC, "f", source_port="port-v", tap_service_id="ts", mirror="tap-flow")
    assert stack_violations(declared_mirrors, mirror, vms, service, flow) == []
    elsewhere = res(DYNAMIC, "f2", source_port="port-x", tap_service_id="ts", mirror="tap-flow")
    assert stack_violations(declared_mirrors, mirror, vms, service, elsewhere) == [
        "vms: not copied to tap (no tap flow)"
    ]
