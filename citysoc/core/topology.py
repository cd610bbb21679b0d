"""The one topology model: agencies, segments, CIDRs, security levels and allowed flows.

The YAML file is validated by pydantic at the boundary; lookups are answered by a
:class:`Topology`, which every stage uses: enrichment of events, firewall policy,
the range and the compliance report.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citysoc.core.errors import Location, TopologyError

SegmentKind = Literal["datacentre", "ioc", "camera", "ics", "soc", "management"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str
    name_vi: str = ""


class Segment(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str
    kind: SegmentKind
    agency: str
    cidr: IpNetwork
    vlan: int | None = Field(default=None, ge=1, le=4094)
    security_level: int = Field(ge=1, le=5, description="Decree 85/2016 level of its systems.")

    @field_validator("cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, value: object) -> object:
        try:
            return ipaddress.ip_network(str(value), strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network address with a prefix: {exc}") from exc


class Host(_Frozen):
    """A named machine of the city: how host-based logs are placed in the topology."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    address: IpAddress
    segment: str
    role: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$", description="vms, scada, bastion, ...")


class Flow(_Frozen):
    """A permitted conversation: anything not listed between two segments is denied."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    destination: str = Field(alias="to")
    protocol: Literal["tcp", "udp", "icmp"]
    ports: tuple[int, ...] = ()
    description: str


class TopologyFile(_Frozen):
    city: str
    agencies: tuple[Agency, ...]
    segments: tuple[Segment, ...]
    hosts: tuple[Host, ...] = ()
    flows: tuple[Flow, ...] = ()


@dataclass(frozen=True)
class Placement:
    """Where an address sits in the city: its segment, agency and security level."""

    segment: str
    agency: str
    kind: SegmentKind
    security_level: int


class Topology:
    """Validated topology with fast address look-ups."""

    def __init__(self, model: TopologyFile) -> None:
        self.model = model
        self.agencies = {a.id: a for a in model.agencies}
        self.segments = {s.id: s for s in model.segments}
        self.hosts = {h.name: h for h in model.hosts}
        self._check()
        # Longest prefix first, so nested segments win over the ones that contain them.
        self._by_prefix = sorted(model.segments, key=lambda s: s.cidr.prefixlen, reverse=True)
        self.locate = lru_cache(maxsize=65536)(self._locate)

    def _check(self) -> None:
        if len(self.agencies) != len(self.model.agencies):
            raise TopologyError("agency ids are not unique")
        if len(self.segments) != len(self.model.segments):
            raise TopologyError("segment ids are not unique")
        for seg in self.model.segments:
            if seg.agency not in self.agencies:
                raise TopologyError(f"segment {seg.id!r} names unknown agency {seg.agency!r}")
        for a, b in _pairs(self.model.segments):
            if a.cidr.version == b.cidr.version and a.cidr.overlaps(b.cidr):
                raise TopologyError(f"segments {a.id!r} and {b.id!r} overlap ({a.cidr}, {b.cidr})")
        for host in self.model.hosts:
            segment = self.segments.get(host.segment)
            if segment is None:
                raise TopologyError(f"host {host.name!r} names unknown segment {host.segment!r}")
            if host.address not in segment.cidr:
                raise TopologyError(f"host {host.name!r} ({host.address}) is not in {segment.id}")
        if len(self.hosts) != len(self.model.hosts):
            raise TopologyError("host names are not unique")
        for flow in self.model.flows:
            for end in (flow.source, flow.destination):
                if end not in self.segments and end != "internet":
                    raise TopologyError(f"flow {flow.description!r} names unknown segment {end!r}")

    def _locate(self, address: str) -> Placement | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for seg in self._by_prefix:
            if ip.version == seg.cidr.version and ip in seg.cidr:
                return Placement(seg.id, seg.agency, seg.kind, seg.security_level)
        return None

    def host_address(self, name: str) -> str | None:
        """The address of a named host (a syslog sender, say), if the topology knows it."""
        host = self.hosts.get(name.lower())
        return str(host.address) if host else None

    def flows_between(self, source: str, destination: str) -> Iterator[Flow]:
        """Allowed flows from one segment (or ``internet``) to another."""
        return (f for f in self.model.flows if f.source == source and f.destination == destination)


def _pairs(items: tuple[Segment, ...]) -> Iterator[tuple[Segment, Segment]]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file; errors name the file and the offending entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(f"cannot read topology: {exc}", location=Location(str(path))) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = Location(str(path), line=mark.line + 1, column=mark.column + 1) if mark else None
        raise TopologyError(f"invalid YAML: {exc}", location=loc or Location(str(path))) from exc
    try:
        model = TopologyFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TopologyError(f"{where}: {first['msg']}", location=Location(str(path))) from exc
    return Topology(model)
