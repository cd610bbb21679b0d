"""The city's two routers: ``edge`` (with the internet gateway) and ``core`` (none)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from infra.tags import router_tags


@dataclass(frozen=True)
class CityRoutersArgs:
    """``external_network_id``: the provider network the edge router's gateway sits on."""

    external_network_id: pulumi.Input[str]
    agency: str
    level: int


class CityRouters(pulumi.ComponentResource):
    """Camera and ICS segments attach only to ``core``, which has no route out."""

    edge: openstack.networking.Router
    core: openstack.networking.Router

    def __init__(
        self, name: str, args: CityRoutersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("citysoc:network:CityRouters", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.edge = openstack.networking.Router(
            f"{name}-edge",
            name=f"{name}-edge",
            external_network_id=args.external_network_id,
            tags=router_tags("edge", args.agency, args.level),
            opts=child,
        )
        self.core = openstack.networking.Router(
            f"{name}-core",
            name=f"{name}-core",
            tags=router_tags("core", args.agency, args.level),
            opts=child,
        )
        self.register_outputs({"edge_id": self.edge.id, "core_id": self.core.id})
