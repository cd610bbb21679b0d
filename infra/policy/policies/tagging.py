"""Every taggable resource names its agency, segment and Decree 85 level."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from infra.policy.policies.resources import PORT, TAGGABLE, tags_of

REQUIRED = ("agency", "segment", "level")


def validate_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE:
        return
    tags = tags_of(args.props)
    missing = [key for key in REQUIRED if not tags.get(key)]
    if missing:
        report(f"{args.name} lacks the tag(s) {', '.join(missing)}", None)
    level = tags.get("level")
    if level and level not in {"1", "2", "3", "4", "5"}:
        report(f"{args.name}: level={level} is not a Decree 85 level (1-5)", None)


def validate_port_security(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != PORT or args.props.get("portSecurityEnabled") is not False:
        return
    if tags_of(args.props).get("role") != "sensor":
        report(f"{args.name}: port security is off on a port that is not a sensor's", None)


tagged_resources = ResourceValidationPolicy(
    name="tagged-resources",
    description="Networks, subnets, ports, security groups, routers and instances carry "
    "agency=, segment= and level= tags (Decree 85 level 1-5).",
    validate=validate_tags,
)

port_security_only_for_sensors = ResourceValidationPolicy(
    name="port-security-only-for-sensors",
    description="Only a sensor's mirrored port may turn port security off.",
    validate=validate_port_security,
)
