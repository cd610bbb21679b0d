"""What the range builds for a set of scenarios, worked out from the topology (pure data).

- a *switch* namespace with a bridge per segment (and one for the internet);
- a *router* namespace with a leg (the ``.1``) in every segment, forwarding exactly the
  topology's allowed flows (the nftables role's own template, :mod:`cityrange.firewall`);
- one namespace per city host a scenario or the baseline needs, on its topology address;
- one *intruder* namespace per segment an attacker sits in, holding one address per
  scenario (so every attack comes from an address of its own and its alerts are told apart);
- an *internet* namespace for outside attackers and citizens;
- a *collector* namespace with the collectors' addresses (syslog arrives there) and a
  *sensor* namespace whose ``mon0`` receives a copy of every frame entering the switch from
  a host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cityrange.library import Scenario, resolve
from cityrange.netns import PREFIX
from citysoc.core.errors import RangeError
from citysoc.core.topology import INTERNET, Topology

SWITCH_NS = f"{PREFIX}-switch"
ROUTER_NS = f"{PREFIX}-router"
SENSOR_NS = f"{PREFIX}-sensor"
COLLECTOR_NS = f"{PREFIX}-collector"
INTERNET_NS = f"{PREFIX}-internet"
INTERNET_CIDR = ipaddress.IPv4Network("203.0.113.0/24")  # documentation range, range-only
SENSOR_IFACE = "mon0"
FIRST_ATTACKER = 20  # internet attackers from 203.0.113.20 up; citizens from .200


@dataclass
class RangeHost:
    netns: str
    segment: str
    gateway: str
    prefix: int
    addresses: list[str] = field(default_factory=list)


@dataclass
class RangePlan:
    segments: dict[str, str]  # segment id -> CIDR, the internet included
    hosts: dict[str, RangeHost]  # by namespace
    attackers: dict[str, str]  # scenario id -> attacker address
    ports: dict[str, set[int]]  # victim address -> TCP ports it answers on

    def netns_of(self, address: str) -> str:
        for host in self.hosts.values():
            if address in host.addresses:
                return host.netns
        raise RangeError(f"no namespace holds {address}")


def _gateway(cidr: str) -> str:
    return str(next(ipaddress.ip_network(cidr).hosts()))


def _slug(text: str) -> str:
    return text.replace(".", "-").replace("_", "-")


def make_plan(
    topology: Topology,
    scenarios: Sequence[Scenario],
    baseline_hosts: Iterable[str] = (),
    baseline_ports: dict[str, set[int]] | None = None,
) -> RangePlan:
    segments = {s.id: str(s.cidr) for s in topology.segments.values() if s.cidr.version == 4}
    segments[INTERNET] = str(INTERNET_CIDR)
    plan = RangePlan(segments=segments, hosts={}, attackers={}, ports={})

    def host(netns: str, segment: str) -> RangeHost:
        if netns not in plan.hosts:
            cidr = ipaddress.ip_network(segments[segment])
            plan.hosts[netns] = RangeHost(
                netns, segment, _gateway(segments[segment]), cidr.prefixlen
            )
        return plan.hosts[netns]

    collectors = [h for h in topology.soc_hosts() if h.role == "collector"]
    for collector in collectors:
        host(COLLECTOR_NS, collector.segment).addresses.append(str(collector.address))

    def city_host(address: str) -> None:
        if any(address in h.addresses for h in plan.hosts.values()):
            return
        placed = topology.locate(address)
        if placed is None:
            raise RangeError(f"{address} is not inside the city")
        host(f"{PREFIX}-h-{_slug(address)}", placed.segment).addresses.append(address)

    for scenario in scenarios:
        for step in scenario.steps:
            targets = [str(t) for t in step.params.get("targets", ())] or [scenario.victim]
            for target in targets:
                address = resolve(topology, target)
                city_host(address)
                plan.ports.setdefault(address, set()).update(step.tcp_ports())
    for name in baseline_hosts:
        address = resolve(topology, name)
        if topology.locate(address) is not None:
            city_host(address)
        elif address not in host(INTERNET_NS, INTERNET).addresses:
            host(INTERNET_NS, INTERNET).addresses.append(address)
    for address, ports in (baseline_ports or {}).items():
        plan.ports.setdefault(address, set()).update(ports)

    taken = {a for h in plan.hosts.values() for a in h.addresses}
    taken |= {str(h.address) for h in topology.model.hosts}
    for n, scenario in enumerate(scenarios):
        if scenario.attacker == INTERNET:
            address = str(INTERNET_CIDR.network_address + FIRST_ATTACKER + n)
            host(INTERNET_NS, INTERNET).addresses.append(address)
        else:
            cidr = ipaddress.ip_network(segments[scenario.attacker])
            address = str(cidr.broadcast_address - 20 - n)
            if address in taken:
                raise RangeError(f"attacker address {address} is already a host's")
            host(f"{PREFIX}-x-{scenario.attacker}", scenario.attacker).addresses.append(address)
        plan.attackers[scenario.id] = address
    return plan
