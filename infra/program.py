"""The Pulumi program: the whole city from one topology file and the stack's config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from citysoc.core.topology import Topology, load_topology
from infra.cloudinit import user_data
from infra.components import (
    CityRouters,
    CityRoutersArgs,
    CitySegment,
    CitySegmentArgs,
    SocHost,
    SocHostArgs,
)
from infra.inventory import inventory
from infra.rules import internet_facing, segment_rules
from infra.stackconfig import CONFIG_KEYS, StackConfig

REPO = Path(__file__).resolve().parent.parent
OBJECT_KEYS = {"flavors", "dns_nameservers"}


def read_stack_config(config: pulumi.Config) -> StackConfig:
    """The ``citysoc:*`` keys of the stack (objects given as YAML maps or lists)."""
    found: dict[str, Any] = {}
    for name, key in CONFIG_KEYS.items():
        value = config.get_object(key) if name in OBJECT_KEYS else config.get(key)
        if value is not None:
            found[name] = value
    return StackConfig.model_validate(found)


def load_city(config: StackConfig) -> Topology:
    path = config.topology if config.topology.is_absolute() else REPO / config.topology
    return load_topology(path)


@dataclass(frozen=True)
class City:
    routers: CityRouters
    segments: dict[str, CitySegment]
    hosts: dict[str, SocHost]
    inventory: pulumi.Output[dict[str, Any]]


def external_network_id(config: StackConfig) -> pulumi.Input[str]:
    if config.external_network_id:
        return config.external_network_id
    return openstack.networking.get_network_output(name=config.external_network).id


def build_city(topology: Topology, config: StackConfig) -> City:
    """Routers, one component per segment, one per SOC host; the inventory as an output."""
    top_level = max(s.security_level for s in topology.segments.values())
    routers = CityRouters(
        "city", CityRoutersArgs(external_network_id(config), agency="dc", level=top_level)
    )
    segments = {seg_id: _segment(topology, config, routers, seg_id) for seg_id in topology.segments}
    hosts = {}
    for host in topology.soc_hosts():
        mirrors = tuple(segments[s].sensor_ports[host.name] for s in host.monitors)
        hosts[host.name] = SocHost(
            host.name,
            SocHostArgs(
                host=host,
                segment=topology.segments[host.segment],
                port=segments[host.segment].host_ports[host.name],
                image=config.image,
                flavor=config.flavor_of(host.role),
                key_pair=config.key_pair,
                user_data=user_data(topology, host),
                mirror_ports=mirrors,
            ),
        )
    ids = pulumi.Output.all(**{name: h.instance.id for name, h in hosts.items()})
    return City(routers, segments, hosts, ids.apply(lambda found: inventory(topology, found)))


def _segment(
    topology: Topology, config: StackConfig, routers: CityRouters, seg_id: str
) -> CitySegment:
    segment = topology.segments[seg_id]
    facing = internet_facing(topology, seg_id)
    others = tuple(str(s.cidr) for s in topology.segments.values() if s.id != seg_id)
    return CitySegment(
        seg_id,
        CitySegmentArgs(
            segment=segment,
            rules=segment_rules(topology, seg_id),
            core_router_id=routers.core.id,
            edge_router_id=routers.edge.id if facing else None,
            physical_network=config.physical_network,
            hosts=tuple(h for h in topology.soc_hosts() if h.segment == seg_id),
            sensors=topology.sensors_of(seg_id),
            city_routes=others if facing else (),
            dns_nameservers=config.dns_nameservers,
        ),
    )


def export_city(city: City) -> None:
    """Stack outputs: the inventory, and the ids an operator looks up."""
    pulumi.export("inventory", city.inventory)
    pulumi.export("networks", {s: seg.network.id for s, seg in city.segments.items()})
    pulumi.export("routers", {"edge": city.routers.edge.id, "core": city.routers.core.id})
