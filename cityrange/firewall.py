"""The range router's nftables ruleset: the nftables role's own template, with the router's
variables from the same inventory code the stack outputs (:func:`infra.inventory.router_vars`).

So the range forwards exactly what a deployed router forwards: the allowed flows, replies to
them, ICMP, and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

from citysoc.core.topology import Topology
from infra.inventory import router_vars

ROLE = Path(__file__).resolve().parent.parent / "playbooks" / "roles" / "nftables"


def router_ruleset(topology: Topology, role: Path = ROLE) -> str:
    """The ruleset text ``nft -f`` loads in the range's router namespace."""
    defaults: dict[str, Any] = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    template = jinja2.Environment(  # noqa: S701 - an nftables ruleset, not HTML
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=False
    ).from_string((role / "templates" / "citysoc.nft.j2").read_text())
    variables = {**defaults, **router_vars(topology)}
    return template.render(
        inventory_hostname="range-router", ansible_managed="made by citysoc range", **variables
    )
