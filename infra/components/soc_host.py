"""One of the SOC's own hosts: a Nova instance on its ports, configured by cloud-init."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from citysoc.core.topology import Host, Segment
from infra.tags import host_tags


@dataclass(frozen=True)
class SocHostArgs:
    """``port`` is the host's own port; ``mirror_ports`` (sensors) receive mirrored traffic."""

    host: Host
    segment: Segment
    port: openstack.networking.Port
    image: str
    flavor: str
    key_pair: str
    user_data: str
    mirror_ports: tuple[openstack.networking.Port, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()  # beside the tags (e.g. the pinned bundle)


class SocHost(pulumi.ComponentResource):
    instance: openstack.compute.Instance

    def __init__(
        self, name: str, args: SocHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("citysoc:compute:SocHost", name, None, opts)
        tags = host_tags(args.host, args.segment)
        networks = [
            openstack.compute.InstanceNetworkArgs(port=port.id)
            for port in (args.port, *args.mirror_ports)
        ]
        self.instance = openstack.compute.Instance(
            f"{name}-vm",
            name=args.host.name,
            image_name=args.image,
            flavor_name=args.flavor,
            key_pair=args.key_pair,
            networks=networks,
            user_data=args.user_data,
            # cloud-init reads its data from a config drive: the security groups drop default
            # egress, so the metadata service (169.254.169.254) is out of reach.
            config_drive=True,
            tags=tags,
            metadata={
                **{t.split("=", 1)[0]: t.split("=", 1)[1] for t in tags},
                **dict(args.metadata),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"instance_id": self.instance.id})
