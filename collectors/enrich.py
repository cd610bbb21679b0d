"""Place each event's addresses in the city: segment, agency, kind and security level.

The event's own agency and segment (``organization.id``, ``citysoc.segment``) follow
the destination when it is internal (the asset under attack or in use), else the reporting
host (``host.ip``, or the address the topology gives ``host.hostname``: a syslog sender),
else the source when that is internal, else the default agency with segment ``unknown``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from citysoc.core.ecs import Event
from citysoc.core.topology import Placement, Topology, load_topology

log = logging.getLogger(__name__)

Enrich = Callable[[Event], Event]  # what the shippers apply to each event

MAX_KNOWN = 65536  # addresses whose fields are remembered (cleared when full)
_IP = {"source": "source.ip", "destination": "destination.ip"}


def enricher_for(topology_path: Path, default_agency: str) -> Enricher:
    """An enricher from a topology file (picklable as a ``partial``: a process makes its own)."""
    return Enricher(load_topology(topology_path), default_agency)


class Enricher:
    """Adds ``citysoc.*`` placement fields and ``organization.id`` to events, in place."""

    def __init__(self, topology: Topology, default_agency: str) -> None:
        self.topology = topology
        self.default_agency = default_agency
        self.roles = {str(h.address): h.role for h in topology.hosts.values()}
        self._known: dict[tuple[str, str], tuple[dict[str, Any], Placement | None]] = {}

    def __call__(self, event: Event) -> Event:
        source = self._place(event, "source")
        destination = self._place(event, "destination")
        host = self._place_host(event)
        chosen = destination or host or source
        if chosen is not None:
            event["organization.id"] = chosen.agency
            event["citysoc.segment"] = chosen.segment
            event["citysoc.security_level"] = chosen.security_level
        else:
            event["organization.id"] = self.default_agency
            event["citysoc.segment"] = "unknown"
        return event

    def _place_host(self, event: Event) -> Placement | None:
        address = event.get("host.ip")
        if not isinstance(address, str):
            name = event.get("host.hostname") or event.get("host.name")
            address = self.topology.host_address(name) if isinstance(name, str) else None
            if address is None:
                return None
            event["host.ip"] = address
        return self.topology.locate(address)

    def _place(self, event: Event, side: str) -> Placement | None:
        address = event.get(_IP[side])
        if not isinstance(address, str):
            return None
        known = self._known.get((side, address))
        if known is None:
            known = self._fields_of(side, address)
            if len(self._known) >= MAX_KNOWN:
                self._known.clear()
            self._known[(side, address)] = known
        event.update(known[0])
        return known[1]

    def _fields_of(self, side: str, address: str) -> tuple[dict[str, Any], Placement | None]:
        """The ``citysoc.<side>.*`` fields of an address, and its placement (memoised)."""
        placement = self.topology.locate(address)
        if placement is None:
            return {f"citysoc.{side}.zone": "internet"}, None
        fields: dict[str, Any] = {
            f"citysoc.{side}.zone": "internal",
            f"citysoc.{side}.segment": placement.segment,
            f"citysoc.{side}.agency": placement.agency,
            f"citysoc.{side}.kind": placement.kind,
            f"citysoc.{side}.level": placement.security_level,
        }
        role = self.roles.get(address)
        if role is not None:
            fields[f"citysoc.{side}.role"] = role
        return fields, placement
