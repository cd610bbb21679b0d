"""The Pulumi program: the whole city from one topology file and the stack's config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from citysoc.core.settings import Settings
from citysoc.core.topology import Topology, load_topology
from infra.cloudinit import user_data
from infra.components import (
    BastionAccess,
    BastionAccessArgs,
    CityRouters,
    CityRoutersArgs,
    CitySegment,
    CitySegmentArgs,
    SocHost,
    SocHostArgs,
)
from infra.components.mirrors import is_provider_vlan
from infra.inventory import inventory
from infra.rules import internet_facing, merged, segment_rules, service_rules
from infra.services import ServiceFlow, service_flows, soc_segments
from infra.stackconfig import CONFIG_KEYS, OBJECT_KEYS, StackConfig

REPO = Path(__file__).resolve().parent.parent
RULE_ROLES = ("sensor", "soc-api")
"""Hosts that load detection rules: they deploy the stack's pinned analytics bundle."""


def read_stack_config(config: pulumi.Config) -> StackConfig:
    """The ``citysoc:*`` keys of the stack (objects given as YAML maps or lists)."""
    found: dict[str, Any] = {}
    for name, key in CONFIG_KEYS.items():
        value = config.get_object(key) if name in OBJECT_KEYS else config.get(key)
        if value is not None:
            found[name] = value
    if "cloud" not in found:  # the OpenStack provider's own clouds.yaml entry
        cloud = pulumi.Config("openstack").get("cloud")
        if cloud:
            found["cloud"] = cloud
    return StackConfig.model_validate(found)


def topology_path(config: StackConfig) -> Path:
    """The stack's topology file (``citysoc:topology``), relative to the repository."""
    return config.topology if config.topology.is_absolute() else REPO / config.topology


def chosen_topology(config: StackConfig, settings: Settings) -> Path:
    """``CITYSOC_TOPOLOGY_PATH`` when it is set, else the stack's ``citysoc:topology``."""
    if "topology_path" in settings.model_fields_set:
        return settings.topology_path
    return topology_path(config)


def load_city(config: StackConfig) -> Topology:
    return load_topology(topology_path(config))


@dataclass(frozen=True)
class City:
    routers: CityRouters
    segments: dict[str, CitySegment]
    hosts: dict[str, SocHost]
    bastion: BastionAccess | None
    inventory: pulumi.Output[dict[str, Any]]


def external_network_id(config: StackConfig) -> pulumi.Input[str]:
    if config.external_network_id:
        return config.external_network_id
    return openstack.networking.get_network_output(name=config.external_network).id


def build_city(topology: Topology, config: StackConfig) -> City:
    """Routers, one component per segment, one per SOC host, the bastion's way in, the inventory."""
    top_level = max(s.security_level for s in topology.segments.values())
    routers = CityRouters(
        "city", CityRoutersArgs(external_network_id(config), agency="dc", level=top_level)
    )
    bastion_host = next((h for h in topology.soc_hosts() if h.role == "bastion"), None)
    bastion = None
    if bastion_host is not None:
        bastion = BastionAccess(
            bastion_host.name,
            BastionAccessArgs(
                bastion_host,
                topology.segments[bastion_host.segment],
                config.operator_cidr,
                config.external_network,
            ),
        )
    if not config.package_source:
        pulumi.log.warn(
            "no citysoc:packageSource: the security groups open no other way out, so "
            "cloud-init and Ansible cannot install packages on the SOC's hosts"
        )
    services = service_flows(topology, config)
    segments = {
        seg_id: _segment(topology, config, routers, seg_id, services, bastion)
        for seg_id in topology.segments
    }
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
                user_data=user_data(topology, host, config),
                mirror_ports=mirrors,
                metadata=tuple(config.release_pin.items()) if host.role in RULE_ROLES else (),
            ),
        )
    if bastion is not None and bastion_host is not None:
        bastion.attach(segments[bastion_host.segment].host_ports[bastion_host.name])
    ids = pulumi.Output.all(**{name: h.instance.id for name, h in hosts.items()})
    address = bastion.floating_ip.address if bastion is not None else pulumi.Output.from_input("")
    found = pulumi.Output.all(ids, address).apply(
        lambda both: inventory(topology, both[0], config, public_bastion=both[1] or "")
    )
    return City(routers, segments, hosts, bastion, found)


def on_edge(topology: Topology, seg_id: str) -> bool:
    """Internet-facing segments, and those of the SOC's hosts (packages, the bastion's IP)."""
    return internet_facing(topology, seg_id) or seg_id in soc_segments(topology)


def _segment(
    topology: Topology,
    config: StackConfig,
    routers: CityRouters,
    seg_id: str,
    services: tuple[ServiceFlow, ...],
    bastion: BastionAccess | None,
) -> CitySegment:
    segment = topology.segments[seg_id]
    edge = on_edge(topology, seg_id)
    others = tuple(str(s.cidr) for s in topology.segments.values() if s.id != seg_id)
    city_hosts = (
        ()
        if is_provider_vlan(segment)
        else tuple(h for h in topology.model.hosts if h.segment == seg_id and not h.is_soc_host)
    )
    groups: dict[str, tuple[pulumi.Input[str], ...]] = {}
    if bastion is not None:
        bastion_host = next(h for h in topology.soc_hosts() if h.role == "bastion")
        groups[bastion_host.name] = (bastion.security_group.id,)
    return CitySegment(
        seg_id,
        CitySegmentArgs(
            segment=segment,
            rules=merged(
                segment_rules(topology, seg_id), service_rules(topology, services, seg_id)
            ),
            core_router_id=routers.core.id,
            edge_router_id=routers.edge.id if edge else None,
            physical_network=config.physical_network,
            hosts=tuple(h for h in topology.soc_hosts() if h.segment == seg_id),
            city_hosts=city_hosts,
            host_groups=groups,
            sensors=topology.sensors_of(seg_id),
            city_routes=others if edge else (),
            dns_nameservers=config.dns_nameservers,
            cloud=config.cloud,
            switch_span=config.switch_spans.get(seg_id, ""),
        ),
    )


def export_city(city: City) -> None:
    """Stack outputs: the inventory, the bastion's address, and the ids an operator looks up."""
    pulumi.export("inventory", city.inventory)
    pulumi.export("networks", {s: seg.network.id for s, seg in city.segments.items()})
    pulumi.export("routers", {"edge": city.routers.edge.id, "core": city.routers.core.id})
    pulumi.export(
        "ports",
        {name: port.id for seg in city.segments.values() for name, port in seg.host_ports.items()},
    )
    if city.bastion is not None:
        pulumi.export("bastion_address", city.bastion.floating_ip.address)
