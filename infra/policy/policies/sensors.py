"""Every segment of Decree 85 level 3 or higher has a sensor watching it, fed by a mirror."""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.policies.mirrors import fed_segments
from infra.policy.policies.resources import NETWORK, of_type, tags_of

MONITORED_FROM_LEVEL = 3


def validate_sensors(args: StackValidationArgs, report: ReportViolation) -> None:
    watched = fed_segments(args.resources)
    for network in of_type(args.resources, NETWORK):
        tags = tags_of(network.props)
        level = int(tags["level"]) if tags.get("level", "").isdigit() else 0
        if level >= MONITORED_FROM_LEVEL and tags.get("segment") not in watched:
            report(
                f"{network.name}: segment {tags.get('segment')} of level {level} has no "
                "sensor port fed by a mirror (tap service or switch SPAN)",
                network.urn,
            )


sensor_per_sensitive_segment = StackValidationPolicy(
    name="sensor-per-sensitive-segment",
    description="Every segment of Decree 85 level 3 or higher has a sensor's mirror port, fed "
    "by tap-as-a-service or a declared switch SPAN.",
    validate=validate_sensors,
)
