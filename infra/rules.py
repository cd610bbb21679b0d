"""Security-group rules generated from the topology's allowed flows (pure, no Pulumi)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from citysoc.core.topology import INTERNET, Flow, IpNetwork, Topology
from infra.services import ServiceFlow, destination_segment

Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class SecurityRule:
    """One port of one allowed flow, seen from the segment whose security group holds it."""

    direction: Direction
    protocol: str
    port: int | None
    remote: IpNetwork
    peer: str
    description: str

    @property
    def ethertype(self) -> str:
        return "IPv4" if self.remote.version == 4 else "IPv6"

    @property
    def slug(self) -> str:
        """A stable, unique name part: direction, protocol, port and peer."""
        way = "in" if self.direction == "ingress" else "out"
        port = f"-{self.port}" if self.port is not None else ""
        return f"{way}-{self.protocol}{port}-{self.peer}"


def segment_rules(topology: Topology, segment: str) -> tuple[SecurityRule, ...]:
    """Ingress for every flow into the segment, egress for every flow out of it."""
    rules: dict[str, SecurityRule] = {}
    for flow in topology.model.flows:
        if flow.destination == segment:
            peer = flow.source_host or flow.source
            remote = topology.source_network(flow)
            for rule in _expand(flow, "ingress", remote, peer):
                rules.setdefault(rule.slug, rule)
        if flow.source == segment:
            peer = flow.destination_host or flow.destination
            remote = topology.destination_network(flow)
            for rule in _expand(flow, "egress", remote, peer):
                rules.setdefault(rule.slug, rule)
    return tuple(rules.values())


def service_rules(
    topology: Topology, services: tuple[ServiceFlow, ...], segment: str
) -> tuple[SecurityRule, ...]:
    """Egress for the services the segment's hosts open; ingress where a service lives here."""
    rules: dict[str, SecurityRule] = {}
    for flow in services:
        found: list[SecurityRule] = []
        if flow.source == segment:
            found += [
                SecurityRule(
                    "egress", flow.protocol, port, flow.destination, flow.peer, flow.description
                )
                for port in flow.ports
            ]
        if destination_segment(topology, flow) == segment:
            remote = topology.segments[flow.source].cidr
            found += [
                SecurityRule("ingress", flow.protocol, port, remote, flow.source, flow.description)
                for port in flow.ports
            ]
        for rule in found:
            rules.setdefault(rule.slug, rule)
    return tuple(rules.values())


def merged(*groups: tuple[SecurityRule, ...]) -> tuple[SecurityRule, ...]:
    """Rule sets joined, the first of each slug kept."""
    rules: dict[str, SecurityRule] = {}
    for group in groups:
        for rule in group:
            rules.setdefault(rule.slug, rule)
    return tuple(rules.values())


def _expand(
    flow: Flow, direction: Direction, remote: IpNetwork, peer: str
) -> tuple[SecurityRule, ...]:
    ports: tuple[int | None, ...] = flow.ports or (None,)
    return tuple(
        SecurityRule(direction, flow.protocol, port, remote, peer, flow.description)
        for port in ports
    )


def internet_facing(topology: Topology, segment: str) -> bool:
    """Whether any flow links the segment with the internet (it then sits on the edge router)."""
    return any(
        INTERNET in (f.source, f.destination) and segment in (f.source, f.destination)
        for f in topology.model.flows
    )
