"""Every sensor's mirror port is fed, and every port of a tapped segment is copied to it.

Inside the cloud a mirror port is fed by tap-as-a-service (a tap service on it, a tap flow
from each port of the segment); on a camera VLAN by a switch SPAN that the port declares
(tag ``mirror=span``, its description naming the SPAN). A mirror port fed by neither sees
nothing, however its port security is set.
"""

from __future__ import annotations

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.policies.resources import (
    DYNAMIC,
    PORT,
    is_mirror_port,
    of_type,
    points_at,
    tags_of,
)

TAP_SERVICE = "tap-service"
TAP_FLOW = "tap-flow"
SPAN_PREFIX = "switch SPAN:"


def taas(resources: list[PolicyResource], kind: str) -> list[PolicyResource]:
    return [r for r in of_type(resources, DYNAMIC) if r.props.get("mirror") == kind]


def declared_span(port: PolicyResource) -> bool:
    description = str(port.props.get("description") or "")
    return tags_of(port.props).get("mirror") == "span" and (
        description.startswith(SPAN_PREFIX) and bool(description[len(SPAN_PREFIX) :].strip())
    )


def is_fed(port: PolicyResource, services: list[PolicyResource]) -> bool:
    return declared_span(port) or any(points_at(s, "port_id", port) for s in services)


def fed_segments(resources: list[PolicyResource]) -> set[str]:
    """Segments with at least one sensor mirror port that something feeds."""
    services = taas(resources, TAP_SERVICE)
    return {
        tags_of(p.props).get("segment", "")
        for p in of_type(resources, PORT)
        if is_mirror_port(p) and is_fed(p, services)
    }


def validate_mirrors(args: StackValidationArgs, report: ReportViolation) -> None:
    services = taas(args.resources, TAP_SERVICE)
    flows = taas(args.resources, TAP_FLOW)
    ports = of_type(args.resources, PORT)
    for port in ports:
        if is_mirror_port(port) and not is_fed(port, services):
            report(
                f"{port.name}: a sensor mirror port that nothing feeds (no tap service on it, "
                "no switch SPAN declared in citysoc:switchSpans)",
                port.urn,
            )
    for service in services:
        segment = str(service.props.get("segment", ""))
        for port in ports:
            tags = tags_of(port.props)
            if (
                tags.get("segment") != segment
                or is_mirror_port(port)
                or tags.get("role") == "router"
                or (bool(tags.get("host")) and tags.get("host") == service.props.get("sensor"))
            ):
                continue
            if not any(
                points_at(f, "source_port", port) and points_at(f, "tap_service_id", service)
                for f in flows
            ):
                report(f"{port.name}: not copied to {service.name} (no tap flow)", port.urn)


declared_mirrors = StackValidationPolicy(
    name="declared-mirrors",
    description="Every sensor mirror port is fed by a tap service or a declared switch SPAN, "
    "and every port of a tapped segment has a tap flow to it.",
    validate=validate_mirrors,
)
