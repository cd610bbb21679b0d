"""Management ports (SSH, RDP, WinRM, VNC, SNMP, IPMI) open only from the bastion.

The one exception is the bastion's own SSH, open to the operators' network: a specific
prefix (at most a /16, or /48 in IPv6), never the whole internet.
"""

from __future__ import annotations

import ipaddress

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.policies.resources import (
    PORT,
    SEC_GROUP_RULE,
    of_type,
    owning_group,
    port_range,
    tags_of,
)

MANAGEMENT_PORTS = {"tcp": (22, 3389, 5900, 5985, 5986), "udp": (161, 623)}
SSH = 22
WIDEST_OPERATOR_PREFIX = {4: 16, 6: 48}


def bastion_addresses(args: StackValidationArgs) -> set[str]:
    """The fixed addresses of the ports tagged ``role=bastion``."""
    found: set[str] = set()
    for port in of_type(args.resources, PORT):
        if tags_of(port.props).get("role") == "bastion":
            found |= {str(ip.get("ipAddress")) for ip in port.props.get("fixedIps") or ()}
    return found


def _opens_management(props: dict[str, object]) -> list[int]:
    protocols = (
        ("tcp", "udp")
        if props.get("protocol") in (None, "", "any")
        else (str(props.get("protocol")),)
    )
    low, high = port_range(props)
    return [p for proto in protocols for p in MANAGEMENT_PORTS.get(proto, ()) if low <= p <= high]


def _operator_ssh(rule_group_role: str | None, ports: list[int], network: object) -> bool:
    """SSH alone into the bastion's group, from a specific operator network."""
    if rule_group_role != "bastion" or ports != [SSH] or network is None:
        return False
    assert isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)
    return network.prefixlen >= WIDEST_OPERATOR_PREFIX[network.version]


def validate_management(args: StackValidationArgs, report: ReportViolation) -> None:
    bastions = bastion_addresses(args)
    for rule in of_type(args.resources, SEC_GROUP_RULE):
        props = dict(rule.props)
        if props.get("direction") != "ingress":
            continue
        ports = _opens_management(props)
        if not ports:
            continue
        prefix = props.get("remoteIpPrefix")
        network = ipaddress.ip_network(str(prefix), strict=False) if prefix else None
        group = owning_group(rule)
        if _operator_ssh(tags_of(group.props).get("role") if group else None, ports, network):
            continue
        if network is None or network.num_addresses != 1 or str(network[0]) not in bastions:
            report(
                f"{rule.name}: management port(s) {ports} open to {prefix or 'anywhere'}, "
                f"not only the bastion ({', '.join(sorted(bastions)) or 'none'})",
                rule.urn,
            )


management_from_bastion = StackValidationPolicy(
    name="management-from-bastion",
    description="Management ports (SSH, RDP, VNC, WinRM, SNMP, IPMI) accept only the "
    "bastion's address; the bastion's SSH only a specific operator network (/16 or narrower).",
    validate=validate_management,
)
