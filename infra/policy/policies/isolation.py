"""Camera and ICS segments: no route to the internet, and only specific, private peers."""

from __future__ import annotations

import ipaddress

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.policies.resources import (
    ANYWHERE,
    ISOLATED_KINDS,
    ROUTER_INTERFACE,
    SEC_GROUP,
    SEC_GROUP_RULE,
    SUBNET_ROUTE,
    of_type,
    owning_group,
    referenced,
    remote_is_anywhere,
    tags_of,
)


def _kind(resource: PolicyResource | None) -> str | None:
    return tags_of(resource.props).get("kind") if resource is not None else None


def _interface_segment(interface: PolicyResource) -> PolicyResource | None:
    """The subnet (or, for a port interface, the port) that a router interface joins."""
    return referenced(interface, "subnetId") or referenced(interface, "portId")


def _check_routes(args: StackValidationArgs, report: ReportViolation) -> None:
    for interface in of_type(args.resources, ROUTER_INTERFACE):
        segment = _interface_segment(interface)
        router = referenced(interface, "routerId")
        if _kind(segment) in ISOLATED_KINDS and router and router.props.get("externalNetworkId"):
            report(
                f"{interface.name}: a {_kind(segment)} segment on a router with an "
                f"internet gateway ({router.name})",
                interface.urn,
            )
    for route in of_type(args.resources, SUBNET_ROUTE):
        subnet = referenced(route, "subnetId")
        if _kind(subnet) in ISOLATED_KINDS and route.props.get("destinationCidr") in ANYWHERE:
            report(f"{route.name}: a default route out of a {_kind(subnet)} segment", route.urn)


def _peer_is_specific(prefix: object) -> bool:
    network = ipaddress.ip_network(str(prefix), strict=False)
    return network.prefixlen > 0 and network.is_private


def _check_peers(args: StackValidationArgs, report: ReportViolation) -> None:
    for group in of_type(args.resources, SEC_GROUP):
        if _kind(group) in ISOLATED_KINDS and not group.props.get("deleteDefaultRules"):
            report(f"{group.name}: keeps OpenStack's allow-all egress defaults", group.urn)
    for rule in of_type(args.resources, SEC_GROUP_RULE):
        owner = owning_group(rule)
        if _kind(owner) not in ISOLATED_KINDS:
            continue
        prefix = rule.props.get("remoteIpPrefix")
        if remote_is_anywhere(rule.props) or (prefix and not _peer_is_specific(prefix)):
            report(
                f"{rule.name}: a {_kind(owner)} segment may reach only its allowed peers, "
                f"not {prefix or 'anywhere'}",
                rule.urn,
            )


def validate_isolation(args: StackValidationArgs, report: ReportViolation) -> None:
    _check_routes(args, report)
    _check_peers(args, report)


camera_ics_isolation = StackValidationPolicy(
    name="camera-ics-isolation",
    description="Camera and ICS segments have no route to the internet and reach only "
    "their allowed peers (specific private prefixes, no default egress).",
    validate=validate_isolation,
)
