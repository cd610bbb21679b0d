"""One city segment: network, subnet, router interfaces, security group, ports, mirrors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

from citysoc.core.topology import Host, Segment
from infra.components.mirrors import MirrorArgs, feed_mirrors, is_provider_vlan
from infra.rules import SecurityRule
from infra.tags import host_tags, segment_tags, sensor_port_tags

CORE_ROUTER_HOST = 2  # the core router's address in an internet-facing segment (.2)


@dataclass(frozen=True)
class CitySegmentArgs:
    """Everything a segment needs, decided from the topology before any resource exists.

    ``hosts`` are the SOC's own hosts in the segment (each gets a port at its address);
    ``city_hosts`` the topology's other named hosts (a port each, which the owning agency
    boots its instance on); every one of these ports carries the segment's security group,
    plus ``host_groups[name]`` if given. ``sensors`` watch the segment (each gets a mirrored
    port without port security, fed by tap-as-a-service or, on a camera VLAN, by the switch
    SPAN declared in ``switch_span``). Segments with an ``edge_router_id`` take the edge
    router as gateway and reach the rest of the city through the core router
    (``city_routes``).
    """

    segment: Segment
    rules: tuple[SecurityRule, ...]
    core_router_id: pulumi.Input[str]
    edge_router_id: pulumi.Input[str] | None = None
    physical_network: str = "physnet1"
    hosts: tuple[Host, ...] = ()
    city_hosts: tuple[Host, ...] = ()
    host_groups: dict[str, tuple[pulumi.Input[str], ...]] = field(default_factory=dict)
    sensors: tuple[Host, ...] = ()
    city_routes: tuple[str, ...] = field(default=())
    dns_nameservers: tuple[str, ...] = ()
    cloud: str = ""
    switch_span: str = ""


class CitySegment(pulumi.ComponentResource):
    """A segment of the city as OpenStack resources; camera segments are VLAN provider nets."""

    network: openstack.networking.Network
    subnet: openstack.networking.Subnet
    security_group: openstack.networking.SecGroup
    host_ports: dict[str, openstack.networking.Port]
    sensor_ports: dict[str, openstack.networking.Port]

    def __init__(
        self, name: str, args: CitySegmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("citysoc:network:CitySegment", name, None, opts)
        self._name, self._args = name, args
        self._tags = segment_tags(args.segment)
        self.network = self._network()
        self.subnet = self._subnet()
        self._attach_to_routers()
        self.security_group = self._security_group()
        self.host_ports = {h.name: self._host_port(h) for h in (*args.hosts, *args.city_hosts)}
        self.sensor_ports = {s.name: self._sensor_port(s) for s in args.sensors}
        feed_mirrors(
            MirrorArgs(args.segment, self.sensor_ports, self.host_ports, args.cloud),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "network_id": self.network.id,
                "subnet_id": self.subnet.id,
                "security_group_id": self.security_group.id,
            }
        )

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _network(self) -> openstack.networking.Network:
        seg = self._args.segment
        provider = None
        if is_provider_vlan(seg):
            provider = [
                openstack.networking.NetworkSegmentArgs(
                    network_type="vlan",
                    physical_network=self._args.physical_network,
                    segmentation_id=seg.vlan,
                )
            ]
        return openstack.networking.Network(
            f"{self._name}-net",
            name=seg.id,
            description=seg.name,
            admin_state_up=True,
            segments=provider,
            tags=self._tags,
            opts=self._child(),
        )

    def _subnet(self) -> openstack.networking.Subnet:
        seg = self._args.segment
        return openstack.networking.Subnet(
            f"{self._name}-subnet",
            name=seg.id,
            network_id=self.network.id,
            cidr=str(seg.cidr),
            ip_version=seg.cidr.version,
            gateway_ip=str(seg.cidr[1]),
            dns_nameservers=list(self._args.dns_nameservers) or None,
            tags=self._tags,
            opts=self._child(),
        )

    def _attach_to_routers(self) -> None:
        args = self._args
        if args.edge_router_id is None:
            openstack.networking.RouterInterface(
                f"{self._name}-core-if",
                router_id=args.core_router_id,
                subnet_id=self.subnet.id,
                opts=self._child(),
            )
            return
        openstack.networking.RouterInterface(
            f"{self._name}-edge-if",
            router_id=args.edge_router_id,
            subnet_id=self.subnet.id,
            opts=self._child(),
        )
        core_address = str(args.segment.cidr[CORE_ROUTER_HOST])
        core_port = openstack.networking.Port(
            f"{self._name}-core-port",
            network_id=self.network.id,
            fixed_ips=[
                openstack.networking.PortFixedIpArgs(
                    subnet_id=self.subnet.id, ip_address=core_address
                )
            ],
            tags=[*self._tags, "role=router"],
            opts=self._child(),
        )
        openstack.networking.RouterInterface(
            f"{self._name}-core-if", router_id=args.core_router_id, port_id=core_port.id,
            opts=self._child(),
        )  # fmt: skip
        for cidr in args.city_routes:
            openstack.networking.SubnetRoute(
                f"{self._name}-route-{cidr.replace('/', '_')}",
                subnet_id=self.subnet.id,
                destination_cidr=cidr,
                next_hop=core_address,
                opts=self._child(),
            )

    def _security_group(self) -> openstack.networking.SecGroup:
        seg = self._args.segment
        group = openstack.networking.SecGroup(
            f"{self._name}-sg",
            name=f"{seg.id}-flows",
            description=f"Allowed flows of {seg.id}, generated from the topology",
            delete_default_rules=True,
            tags=self._tags,
            opts=self._child(),
        )
        for rule in self._args.rules:
            openstack.networking.SecGroupRule(
                f"{self._name}-{rule.slug}",
                security_group_id=group.id,
                direction=rule.direction,
                ethertype=rule.ethertype,
                protocol=rule.protocol,
                port_range_min=rule.port,
                port_range_max=rule.port,
                remote_ip_prefix=str(rule.remote),
                description=rule.description[:255],
                opts=pulumi.ResourceOptions(parent=group),
            )
        return group

    def _host_port(self, host: Host) -> openstack.networking.Port:
        return openstack.networking.Port(
            f"{host.name}-port",
            name=host.name,
            network_id=self.network.id,
            fixed_ips=[
                openstack.networking.PortFixedIpArgs(
                    subnet_id=self.subnet.id, ip_address=str(host.address)
                )
            ],
            security_group_ids=[self.security_group.id, *self._args.host_groups.get(host.name, ())],
            tags=host_tags(host, self._args.segment),
            opts=self._child(),
        )

    def _sensor_port(self, sensor: Host) -> openstack.networking.Port:
        """A port for mirrored traffic: no address, no security groups, no port security.

        On a camera VLAN the copies come from a switch SPAN: the port says which one.
        """
        seg = self._args.segment
        span = self._args.switch_span if is_provider_vlan(seg) else ""
        return openstack.networking.Port(
            f"{sensor.name}-mirror-{seg.id}",
            name=f"{sensor.name}-mirror-{seg.id}",
            description=f"switch SPAN: {span}" if span else f"tap-as-a-service: {seg.id}",
            network_id=self.network.id,
            no_fixed_ip=True,
            port_security_enabled=False,
            no_security_groups=True,
            tags=sensor_port_tags(sensor, seg, "span" if span else ""),
            opts=self._child(),
        )
