"""Feeding the sensors' mirror ports: tap-as-a-service inside the cloud, a SPAN on camera VLANs.

Tap-as-a-service copies Neutron ports: every port the stack makes in a segment (the SOC's
hosts and the topology's other named hosts) gets a tap flow to each sensor's tap service
there, except the sensor's own port (it would watch itself ship what it saw). Cameras on a
provider VLAN are physical devices that no Neutron port carries: their copies come from a
SPAN on the access switch into the sensor's port on that VLAN, declared per segment in the
stack (``citysoc:switchSpans``) and required by the policy pack.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from citysoc.core.topology import Segment
from infra.taas.resources import TapFlow, TapFlowArgs, TapService, TapServiceArgs


def is_provider_vlan(segment: Segment) -> bool:
    """Camera segments are VLAN provider networks of physical devices."""
    return segment.kind == "camera" and segment.vlan is not None


@dataclass(frozen=True)
class MirrorArgs:
    segment: Segment
    sensor_ports: dict[str, openstack.networking.Port]
    host_ports: dict[str, openstack.networking.Port]
    cloud: str = ""


def feed_mirrors(args: MirrorArgs, opts: pulumi.ResourceOptions) -> list[TapService]:
    """A tap service per sensor port and a tap flow per monitored port (none on a VLAN)."""
    if is_provider_vlan(args.segment):
        return []
    services = []
    for sensor, mirror in args.sensor_ports.items():
        service = TapService(
            f"{sensor}-tap-{args.segment.id}",
            TapServiceArgs(mirror.id, args.segment.id, sensor, args.cloud),
            opts,
        )
        services.append(service)
        for host, port in args.host_ports.items():
            if host == sensor:
                continue  # a sensor does not watch its own shipping of what it saw
            TapFlow(
                f"{host}-flow-{sensor}",
                TapFlowArgs(port.id, service.id, args.segment.id, host, args.cloud),
                pulumi.ResourceOptions(parent=service),
            )
    return services
