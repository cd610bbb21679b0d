"""How operators reach the city: the bastion's floating IP and SSH from the operators' network.

Everything else is reached through the bastion (Ansible's ``ProxyJump``). The operators'
network comes from the stack (``citysoc:operatorCidr``); with none, the group holds no rule
and the policy pack says the bastion is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from citysoc.core.topology import Host, IpNetwork, Segment
from infra.tags import host_tags

SSH = 22


@dataclass(frozen=True)
class BastionAccessArgs:
    host: Host
    segment: Segment
    operator_cidr: IpNetwork | None
    external_network: str


class BastionAccess(pulumi.ComponentResource):
    """A security group for operators' SSH and a floating IP on the external network."""

    security_group: openstack.networking.SecGroup
    floating_ip: openstack.networking.FloatingIp

    def __init__(
        self, name: str, args: BastionAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("citysoc:network:BastionAccess", name, None, opts)
        self._name = name
        tags = host_tags(args.host, args.segment)
        self.security_group = openstack.networking.SecGroup(
            f"{name}-sg",
            name=f"{args.host.name}-operators",
            description="SSH from the operators' network to the bastion only",
            delete_default_rules=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.operator_cidr is not None:
            openstack.networking.SecGroupRule(
                f"{name}-in-tcp-{SSH}-operators",
                security_group_id=self.security_group.id,
                direction="ingress",
                ethertype="IPv4" if args.operator_cidr.version == 4 else "IPv6",
                protocol="tcp",
                port_range_min=SSH,
                port_range_max=SSH,
                remote_ip_prefix=str(args.operator_cidr),
                description="Operators reach the bastion over SSH",
                opts=pulumi.ResourceOptions(parent=self.security_group),
            )
        self.floating_ip = openstack.networking.FloatingIp(
            f"{name}-fip",
            pool=args.external_network,
            description=f"{args.host.name}: the operators' way in",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def attach(self, port: openstack.networking.Port) -> None:
        """Put the floating IP on the bastion's port (once the segment has made it)."""
        openstack.networking.FloatingIpAssociate(
            f"{self._name}-fip-port",
            floating_ip=self.floating_ip.address,
            port_id=port.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"address": self.floating_ip.address, "security_group_id": self.security_group.id}
        )
