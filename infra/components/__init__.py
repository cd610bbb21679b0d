"""Pulumi components: one per network piece, each with a typed ``Args`` class."""

from infra.components.bastion import BastionAccess, BastionAccessArgs
from infra.components.routers import CityRouters, CityRoutersArgs
from infra.components.segment import CitySegment, CitySegmentArgs
from infra.components.soc_host import SocHost, SocHostArgs

__all__ = [
    "BastionAccess",
    "BastionAccessArgs",
    "CityRouters",
    "CityRoutersArgs",
    "CitySegment",
    "CitySegmentArgs",
    "SocHost",
    "SocHostArgs",
]
