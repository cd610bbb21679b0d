"""Tap services and tap flows as Pulumi resources (a dynamic provider: no plugin to install).

Both carry ``mirror`` (``tap-service`` / ``tap-flow``) and the watched ``segment`` so the
policy pack can tell them apart: every dynamic resource has the same Pulumi type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi.dynamic import Resource

from infra.taas.provider import TaasProvider

TAP_SERVICE = "tap-service"
TAP_FLOW = "tap-flow"


@dataclass(frozen=True)
class TapServiceArgs:
    """``port_id``: the sensor's mirror port that receives the copies."""

    port_id: pulumi.Input[str]
    segment: str
    sensor: str
    cloud: str = ""


@dataclass(frozen=True)
class TapFlowArgs:
    """``source_port`` is copied (both directions) to ``tap_service_id``."""

    source_port: pulumi.Input[str]
    tap_service_id: pulumi.Input[str]
    segment: str
    source: str
    cloud: str = ""
    direction: str = "BOTH"


class TapService(Resource):
    """A sensor's mirror port as a TaaS destination."""

    status: pulumi.Output[str]

    def __init__(
        self, name: str, args: TapServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "name": name,
            "description": f"{args.sensor} watches {args.segment}",
            "port_id": args.port_id,
            "cloud": args.cloud,
            "mirror": TAP_SERVICE,
            "segment": args.segment,
            "sensor": args.sensor,
            "status": None,
        }
        super().__init__(TaasProvider("tap_service"), name, props, opts)


class TapFlow(Resource):
    """One monitored port copied to a tap service."""

    status: pulumi.Output[str]

    def __init__(
        self, name: str, args: TapFlowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "name": name,
            "description": f"{args.source} copied to the {args.segment} sensor",
            "source_port": args.source_port,
            "tap_service_id": args.tap_service_id,
            "direction": args.direction,
            "cloud": args.cloud,
            "mirror": TAP_FLOW,
            "segment": args.segment,
            "status": None,
        }
        super().__init__(TaasProvider("tap_flow"), name, props, opts)
