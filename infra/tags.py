"""OpenStack tags every resource carries: agency, segment and Decree 85 level (plus context)."""

from __future__ import annotations

from citysoc.core.topology import Host, Segment


def segment_tags(segment: Segment) -> list[str]:
    tags = [
        f"agency={segment.agency}",
        f"segment={segment.id}",
        f"level={segment.security_level}",
        f"kind={segment.kind}",
    ]
    if segment.tier:
        tags.append(f"tier={segment.tier}")
    return tags


def host_tags(host: Host, segment: Segment) -> list[str]:
    """A host's tags: its segment's, plus its role and name."""
    return [*segment_tags(segment), f"role={host.role}", f"host={host.name}"]


def sensor_port_tags(sensor: Host, watched: Segment, mirror: str = "") -> list[str]:
    """A sensor's mirrored port belongs to the segment it watches; ``mirror=span`` when a
    switch SPAN (not tap-as-a-service) feeds it."""
    tags = [*segment_tags(watched), "role=sensor", f"host={sensor.name}"]
    return [*tags, f"mirror={mirror}"] if mirror else tags


def router_tags(name: str, agency: str, level: int) -> list[str]:
    return [f"agency={agency}", f"segment={name}", f"level={level}", f"router={name}"]
