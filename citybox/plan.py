"""What the box builds, worked out from the topology and the stack's inventory (pure data).

- one *switch* namespace holds a bridge per segment (plus the internet's);
- the *core* router has a leg in every segment (its ``.1``, or ``.2`` in internet-facing
  segments) and the *edge* router joins the internet to the internet-facing segments (their
  ``.1``), as the Pulumi program lays out the two routers;
- one host namespace per SOC host of the inventory, a few city hosts and an internet host;
- the machine's only way in: one veth into the management segment, on an address the box
  takes for itself (the operator's), which also serves the box's package source.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from citysoc.core.errors import BoxError
from citysoc.core.topology import INTERNET, Topology

PREFIX = "cbx"
SWITCH_NS = f"{PREFIX}-switch"
CORE_NS = f"{PREFIX}-core"
EDGE_NS = f"{PREFIX}-edge"
OPERATOR_LINK = f"{PREFIX}-ops"
INTERNET_CIDR = ipaddress.IPv4Network("198.51.100.0/24")  # documentation range, box-only
# City hosts booted beside the SOC's own: one per kind the end-to-end story needs.
CITY_ROLES = ("web", "vms", "engineering", "camera", "plc")
INTERNET_HOST = "internet-01"


@dataclass(frozen=True)
class Leg:
    """A router's interface in one segment."""

    segment: str
    address: str  # with prefix length, e.g. 10.50.0.1/24


@dataclass(frozen=True)
class Router:
    name: str
    netns: str
    legs: tuple[Leg, ...]
    routes: tuple[tuple[str, str], ...]  # (destination, via)


@dataclass(frozen=True)
class BoxHost:
    name: str
    netns: str
    segment: str
    address: str  # with prefix length
    gateway: str
    routes: tuple[tuple[str, str], ...]
    soc: bool  # converged by Ansible (in the stack's inventory)
    mirrors: tuple[str, ...] = ()  # sensor: segments whose traffic it receives


@dataclass(frozen=True)
class BoxPlan:
    stack: str
    segments: Mapping[str, str]  # segment id -> CIDR (INTERNET included)
    routers: tuple[Router, ...]
    hosts: tuple[BoxHost, ...]
    operator_address: str  # with prefix length, in the management segment
    operator_segment: str

    @property
    def operator_ip(self) -> str:
        return self.operator_address.split("/")[0]

    def host(self, name: str) -> BoxHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise BoxError(f"no host {name!r} in the box")


def mirror_interface(segment: str) -> str:
    """The sensor's interface that receives a copy of ``segment``'s frames."""
    return f"mon-{segment}"[:15]


def inventory_hosts(inventory: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every host of an Ansible inventory (JSON shape) with its variables."""
    found: dict[str, dict[str, Any]] = {}

    def walk(group: Mapping[str, Any]) -> None:
        for name, hostvars in (group.get("hosts") or {}).items():
            found[name] = {**found.get(name, {}), **(hostvars or {})}
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(inventory.get("all", {}))
    return found


def make_plan(stack: str, topology: Topology, inventory: Mapping[str, Any]) -> BoxPlan:
    soc = inventory_hosts(inventory)
    bastion = next((h for h in topology.soc_hosts() if h.role == "bastion"), None)
    if bastion is None or bastion.name not in soc:
        raise BoxError("the inventory has no bastion: the box is reached only through one")
    facing = {
        s
        for f in topology.model.flows
        for s in (f.source, f.destination)
        if INTERNET in (f.source, f.destination)
    } - {INTERNET}
    segments = {s.id: str(s.cidr) for s in topology.model.segments if s.cidr.version == 4}
    segments[INTERNET] = str(INTERNET_CIDR)
    core_legs, edge_legs = [], [Leg(INTERNET, _nth(INTERNET_CIDR, 1))]
    for seg in topology.model.segments:
        if seg.cidr.version != 4:
            continue
        net = ipaddress.IPv4Network(str(seg.cidr))
        if seg.id in facing:
            edge_legs.append(Leg(seg.id, _nth(net, 1)))
            core_legs.append(Leg(seg.id, _nth(net, 2)))
        else:
            core_legs.append(Leg(seg.id, _nth(net, 1)))
    first_facing = next((leg for leg in edge_legs[1:]), None)
    core_routes = (("default", _ip(first_facing)),) if first_facing else ()
    # The edge reaches the inner segments through the core's leg in an internet-facing one.
    core_in_facing = _ip(_leg(core_legs, first_facing.segment)) if first_facing else ""
    edge_routes = tuple(
        (cidr, core_in_facing)
        for seg, cidr in segments.items()
        if first_facing and seg != INTERNET and seg not in facing
    )
    routers = (
        Router("core", CORE_NS, tuple(core_legs), core_routes),
        Router("edge", EDGE_NS, tuple(edge_legs), edge_routes),
    )
    inner = {seg: cidr for seg, cidr in segments.items() if seg != INTERNET and seg not in facing}
    hosts = [
        _soc_host(topology, name, vars_, core_legs, edge_legs, inner)
        for name, vars_ in sorted(soc.items())
    ]
    for role in CITY_ROLES:
        city = next((h for h in topology.model.hosts if h.role == role), None)
        if city is not None and city.name not in soc:
            hosts.append(
                _host(
                    topology,
                    city.name,
                    str(city.address),
                    city.segment,
                    core_legs,
                    edge_legs,
                    inner,
                    soc=False,
                )
            )
    hosts.append(
        BoxHost(
            INTERNET_HOST,
            f"{PREFIX}-h-{INTERNET_HOST}",
            INTERNET,
            _nth(INTERNET_CIDR, 10),
            _ip(edge_legs[0]),
            (),
            soc=False,
        )
    )
    mgmt = ipaddress.IPv4Network(str(topology.segments[bastion.segment].cidr))
    taken = {h.address.split("/")[0] for h in hosts} | {
        str(h.address) for h in topology.model.hosts
    }
    operator = next(a for a in reversed(list(mgmt.hosts())) if str(a) not in taken)
    return BoxPlan(
        stack, segments, routers, tuple(hosts), f"{operator}/{mgmt.prefixlen}", bastion.segment
    )


def _soc_host(
    topology: Topology,
    name: str,
    hostvars: Mapping[str, Any],
    core: list[Leg],
    edge: list[Leg],
    inner: Mapping[str, str],
) -> BoxHost:
    address = str(hostvars.get("ansible_host") or topology.host_address(name) or "")
    placed = topology.locate(address) if address else None
    if placed is None:
        raise BoxError(f"inventory host {name} has no address inside a segment ({address!r})")
    host = next((h for h in topology.model.hosts if h.name == name), None)
    mirrors = host.monitors if host is not None and host.role == "sensor" else ()
    return _host(
        topology, name, address, placed.segment, core, edge, inner, soc=True, mirrors=mirrors
    )


def _host(
    topology: Topology,
    name: str,
    address: str,
    segment: str,
    core: list[Leg],
    edge: list[Leg],
    inner: Mapping[str, str],
    *,
    soc: bool,
    mirrors: tuple[str, ...] = (),
) -> BoxHost:
    net = ipaddress.IPv4Network(str(topology.segments[segment].cidr))
    if segment not in inner:  # default to the edge, the city through the core (as in Pulumi)
        gateway = _ip(_leg(edge, segment))
        via = _ip(_leg(core, segment))
        routes: tuple[tuple[str, str], ...] = tuple((cidr, via) for cidr in inner.values())
    else:
        gateway, routes = _ip(_leg(core, segment)), ()
    return BoxHost(
        name,
        f"{PREFIX}-h-{name}",
        segment,
        f"{address}/{net.prefixlen}",
        gateway,
        routes,
        soc,
        tuple(mirrors),
    )


def _leg(legs: list[Leg], segment: str) -> Leg:
    return next(leg for leg in legs if leg.segment == segment)


def _ip(leg: Leg) -> str:
    return leg.address.split("/")[0]


def _nth(net: ipaddress.IPv4Network, n: int) -> str:
    return f"{net.network_address + n}/{net.prefixlen}"
