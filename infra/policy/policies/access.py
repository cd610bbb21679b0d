"""How the city is reached: a floating IP on the bastion only, SSH from operators only."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.policies.resources import (
    FLOATING_IP_ASSOCIATE,
    PORT,
    SEC_GROUP_RULE,
    of_type,
    owning_group,
    port_range,
    referenced,
    tags_of,
)

SSH = 22


def validate_public_addresses(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every floating IP sits on the bastion's port; the bastion has one and takes SSH."""
    bastion_fips = 0
    for association in of_type(args.resources, FLOATING_IP_ASSOCIATE):
        port = referenced(association, "portId")
        if port is None or tags_of(port.props).get("role") != "bastion":
            where = port.name if port is not None else "an unknown port"
            report(
                f"{association.name}: a floating IP on {where}, not the bastion", association.urn
            )
        else:
            bastion_fips += 1
    bastion_ports = [
        p for p in of_type(args.resources, PORT) if tags_of(p.props).get("role") == "bastion"
    ]
    if not bastion_ports:
        return
    if not bastion_fips:
        report("the bastion has no floating IP: operators cannot reach it", bastion_ports[0].urn)
    ssh_in = [
        rule
        for rule in of_type(args.resources, SEC_GROUP_RULE)
        if rule.props.get("direction") == "ingress"
        and tags_of((owning_group(rule) or rule).props).get("role") == "bastion"
        and port_range(rule.props)[0] <= SSH <= port_range(rule.props)[1]
    ]
    if not ssh_in:
        report(
            "the bastion takes SSH from no operator network: set citysoc:operatorCidr",
            bastion_ports[0].urn,
        )


def validate_port_groups(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every port filters with a security group, except a sensor's mirror and a router's."""
    if args.resource_type != PORT:
        return
    role = tags_of(args.props).get("role")
    if args.props.get("portSecurityEnabled") is False or role == "router":
        return
    if args.props.get("noSecurityGroups") or not args.props.get("securityGroupIds"):
        report(f"{args.name}: a port without a security group", None)


public_address_only_on_bastion = StackValidationPolicy(
    name="public-address-only-on-bastion",
    description="Floating IPs only on the bastion's port; the bastion has one and takes SSH "
    "from the operators' network (citysoc:operatorCidr).",
    validate=validate_public_addresses,
)

security_group_on_every_port = ResourceValidationPolicy(
    name="security-group-on-every-port",
    description="Every port of every segment carries a security group (sensor mirror and "
    "router ports excepted).",
    validate=validate_port_groups,
)
