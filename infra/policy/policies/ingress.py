"""No ingress from the whole internet, except HTTPS to the DMZ web tier."""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.policies.resources import (
    SEC_GROUP_RULE,
    of_type,
    owning_group,
    port_range,
    remote_is_anywhere,
    tags_of,
)

HTTPS = 443


def validate_internet_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    for rule in of_type(args.resources, SEC_GROUP_RULE):
        props = rule.props
        if props.get("direction") != "ingress" or not remote_is_anywhere(props):
            continue
        group = owning_group(rule)
        tier = tags_of(group.props).get("tier") if group is not None else None
        https_only = props.get("protocol") == "tcp" and port_range(props) == (HTTPS, HTTPS)
        if https_only and tier == "dmz":
            continue
        where = f"security group tier {tier!r}" if group is not None else "an unknown group"
        report(
            f"rule {rule.name} admits the whole internet ({props.get('protocol')} "
            f"{port_range(props)}) into {where}; only HTTPS to the DMZ web tier may",
            rule.urn,
        )


no_internet_ingress = StackValidationPolicy(
    name="no-internet-ingress",
    description="No ingress from 0.0.0.0/0 or ::/0 except HTTPS (tcp 443) to the DMZ web tier.",
    validate=validate_internet_ingress,
)
