"""Reading the resources a policy sees: tags, types, and the resources a property names."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource

SEC_GROUP = "openstack:networking/secGroup:SecGroup"
SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
SUBNET_ROUTE = "openstack:networking/subnetRoute:SubnetRoute"
ROUTER = "openstack:networking/router:Router"
ROUTER_INTERFACE = "openstack:networking/routerInterface:RouterInterface"
INSTANCE = "openstack:compute/instance:Instance"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
FLOATING_IP_ASSOCIATE = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
DYNAMIC = "pulumi-python:dynamic:Resource"
TAGGABLE = frozenset({SEC_GROUP, PORT, NETWORK, SUBNET, ROUTER, INSTANCE, FLOATING_IP})
ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})
ISOLATED_KINDS = frozenset({"camera", "ics"})


def tags_of(props: Mapping[str, Any]) -> dict[str, str]:
    """``["agency=dc", "level=3"]`` as ``{"agency": "dc", "level": "3"}``."""
    found: dict[str, str] = {}
    for tag in props.get("tags") or ():
        key, _, value = str(tag).partition("=")
        found[key] = value
    return found


def referenced(resource: PolicyResource, prop: str) -> PolicyResource | None:
    """The resource a property points at (``securityGroupId`` → the group), if known."""
    deps = resource.property_dependencies.get(prop) or []
    return deps[0] if deps else None


def owning_group(rule: PolicyResource) -> PolicyResource | None:
    """A rule's security group: by its ``securityGroupId`` dependency, else by its parent."""
    group = referenced(rule, "securityGroupId")
    if group is None and rule.parent is not None and rule.parent.resource_type == SEC_GROUP:
        group = rule.parent
    return group


def remote_is_anywhere(props: Mapping[str, Any]) -> bool:
    """A rule with no remote prefix and no remote group admits every address."""
    prefix = props.get("remoteIpPrefix")
    if not prefix:
        return not props.get("remoteGroupId") and not props.get("remoteAddressGroupId")
    return str(prefix) in ANYWHERE or ipaddress.ip_network(str(prefix), strict=False).prefixlen == 0


def port_range(props: Mapping[str, Any]) -> tuple[int, int]:
    """The rule's ports; no range means every port."""
    low = props.get("portRangeMin")
    high = props.get("portRangeMax")
    if not low and not high:
        return 0, 65535
    return int(low or high or 0), int(high or low or 0)


def of_type(resources: list[PolicyResource], kind: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == kind]


def is_mirror_port(port: PolicyResource) -> bool:
    """A sensor's port for mirrored traffic (port security off)."""
    return (
        tags_of(port.props).get("role") == "sensor"
        and port.props.get("portSecurityEnabled") is False
    )


def points_at(resource: PolicyResource, prop: str, target: PolicyResource) -> bool:
    """Whether ``prop`` names ``target``: by dependency (known even in a preview, where the
    ids are not), else by id."""
    deps = resource.property_dependencies.get(prop)
    if deps:
        return any(dep is target for dep in deps)
    value = resource.props.get(prop)
    return bool(value) and value == target.props.get("id")
