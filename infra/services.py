"""What the SOC's own hosts need besides the city's flows: DNS, time, packages.

The topology lists the flows between the city's segments; a host also resolves names, keeps
time (from its collector; collectors from the stack's upstream servers) and installs
packages (through the stack's package source). These are the same for every stack, derived
from the topology and the stack's config, and feed both the security groups and the hosts'
nftables output, so the two never disagree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from citysoc.core.topology import Host, IpNetwork, Topology
from infra.stackconfig import StackConfig

DNS_PORT = 53
NTP_PORT = 123


@dataclass(frozen=True)
class ServiceFlow:
    """Hosts of ``source`` (a segment) may open ``protocol``/``ports`` to ``destination``."""

    source: str
    destination: IpNetwork
    protocol: str
    ports: tuple[int, ...]
    peer: str
    description: str


def soc_segments(topology: Topology) -> tuple[str, ...]:
    """The segments holding the SOC's own hosts (in topology order)."""
    held = {h.segment for h in topology.soc_hosts()}
    return tuple(s for s in topology.segments if s in held)


def _peer(topology: Topology, address: str, what: str) -> str:
    host = next((h for h in topology.model.hosts if str(h.address) == address), None)
    return host.name if host else f"{what}-{address.replace(':', '_')}"


def service_flows(topology: Topology, config: StackConfig) -> tuple[ServiceFlow, ...]:
    """DNS to the stack's resolvers, NTP to the collector (and upstream), the package source."""
    found: list[ServiceFlow] = []
    for segment in soc_segments(topology):
        for server in config.dns_nameservers:
            peer = _peer(topology, server, "dns")
            for protocol in ("udp", "tcp"):
                found.append(
                    ServiceFlow(
                        segment,
                        ipaddress.ip_network(server),
                        protocol,
                        (DNS_PORT,),
                        peer,
                        "Name resolution",
                    )
                )
        collector = topology.collector_of(segment)
        if collector is not None:
            found.append(
                ServiceFlow(
                    segment,
                    ipaddress.ip_network(collector.address),
                    "udp",
                    (NTP_PORT,),
                    collector.name,
                    "Time from the collector",
                )
            )
        if config.package_source_cidr is not None:
            found.append(
                ServiceFlow(
                    segment,
                    config.package_source_cidr,
                    "tcp",
                    (config.package_source_port,),
                    "package-source",
                    f"Packages through {config.package_source}",
                )
            )
    collector_segments = sorted({h.segment for h in topology.soc_hosts() if h.role == "collector"})
    for segment in collector_segments:
        for server in config.ntp_servers:
            found.append(
                ServiceFlow(
                    segment,
                    ipaddress.ip_network(server),
                    "udp",
                    (NTP_PORT,),
                    _peer(topology, server, "ntp"),
                    "Upstream time",
                )
            )
    return tuple(found)


def destination_segment(topology: Topology, flow: ServiceFlow) -> str | None:
    """The city segment a service lives in (it then needs ingress there), if any."""
    placement = topology.locate(str(flow.destination.network_address))
    return placement.segment if placement else None


def host_outputs(
    topology: Topology, host: Host, flows: tuple[ServiceFlow, ...]
) -> list[ServiceFlow]:
    """The services a host opens (all of its segment's, but not to itself)."""
    own = ipaddress.ip_network(host.address)
    return [f for f in flows if f.source == host.segment and f.destination != own]


def host_inputs(host: Host, flows: tuple[ServiceFlow, ...]) -> list[ServiceFlow]:
    """The services a host answers: those whose destination is exactly its address."""
    own = ipaddress.ip_network(host.address)
    return [f for f in flows if f.destination == own]
