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

try:  # libyaml's parser: the same documents and error marks, about 7 times faster here
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

SegmentKind = Literal["datacentre", "ioc", "camera", "ics", "soc", "management"]
Tier = Literal["dmz", "app", "data"]
SocRole = Literal["sensor", "collector", "event-store", "soc-api", "bastion"]
SOC_ROLES: tuple[str, ...] = ("sensor", "collector", "event-store", "soc-api", "bastion")
SSH_PORT = 22
SYSLOG_PORT = 514
NTP_PORT = 123
INTERNET = "internet"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str
    name_vi: str = ""


class System(_Frozen):
    """An information system classified under Decree 85/2016 (levels 1-5)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str
    security_level: int = Field(ge=1, le=5)


class Segment(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str
    kind: SegmentKind
    agency: str
    cidr: IpNetwork
    vlan: int | None = Field(default=None, ge=1, le=4094)
    security_level: int = Field(ge=1, le=5, description="Decree 85/2016 level of its systems.")
    tier: Tier | None = Field(default=None, description="Data-centre tier: dmz, app or data.")
    systems: tuple[System, ...] = ()

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
    monitors: tuple[str, ...] = Field(default=(), description="Sensor: segments it watches.")
    serves: tuple[str, ...] = Field(default=(), description="Collector: segments it receives.")

    @property
    def is_soc_host(self) -> bool:
        """The SOC's own machines: laid out by the Pulumi program, configured by Ansible."""
        return self.role in SOC_ROLES


class Flow(_Frozen):
    """A permitted conversation: anything not listed between two segments is denied."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    destination: str = Field(alias="to")
    protocol: Literal["tcp", "udp", "icmp"]
    ports: tuple[int, ...] = ()
    description: str
    source_host: str | None = Field(default=None, alias="from_host")
    destination_host: str | None = Field(default=None, alias="to_host")


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
            _check_segment(seg, self.agencies)
        for a, b in _pairs(self.model.segments):
            if a.cidr.version == b.cidr.version and a.cidr.overlaps(b.cidr):
                raise TopologyError(f"segments {a.id!r} and {b.id!r} overlap ({a.cidr}, {b.cidr})")
        for host in self.model.hosts:
            self._check_host(host)
        if len(self.hosts) != len(self.model.hosts):
            raise TopologyError("host names are not unique")
        for flow in self.model.flows:
            self._check_flow(flow)

    def _check_host(self, host: Host) -> None:
        segment = self.segments.get(host.segment)
        if segment is None:
            raise TopologyError(f"host {host.name!r} names unknown segment {host.segment!r}")
        if host.address not in segment.cidr:
            raise TopologyError(f"host {host.name!r} ({host.address}) is not in {segment.id}")
        for field, role, names in (("monitors", "sensor", host.monitors),
                                   ("serves", "collector", host.serves)):  # fmt: skip
            if names and host.role != role:
                raise TopologyError(f"host {host.name!r}: only a {role} has {field!r}")
            unknown = [n for n in names if n not in self.segments]
            if unknown:
                raise TopologyError(f"host {host.name!r} {field} unknown segments {unknown}")

    def _check_flow(self, flow: Flow) -> None:
        """Each flow names known ends and keeps the city's segmentation rules."""
        what = f"flow {flow.description!r}"
        for end, host_name in ((flow.source, flow.source_host),
                               (flow.destination, flow.destination_host)):  # fmt: skip
            if end not in self.segments and end != INTERNET:
                raise TopologyError(f"{what} names unknown segment {end!r}")
            host = self.hosts.get(host_name) if host_name else None
            if host_name and (host is None or host.segment != end):
                raise TopologyError(f"{what}: host {host_name!r} is not a host of {end!r}")
        kinds = {self.segments[e].kind for e in (flow.source, flow.destination) if e != INTERNET}
        if INTERNET in (flow.source, flow.destination) and kinds & {"camera", "ics"}:
            raise TopologyError(f"{what}: camera and ICS segments never reach the internet")
        if (
            flow.protocol == "tcp"
            and SSH_PORT in flow.ports
            and self.role_of(flow.source_host) != "bastion"
        ):
            raise TopologyError(f"{what}: SSH is allowed only from a bastion host (from_host)")
        if self.segments.get(flow.source) and self.segments[flow.source].kind == "camera":
            self._check_camera_flow(flow, what)
        if self.role_of(flow.destination_host) == "collector" and SYSLOG_PORT in flow.ports:
            collector = self.hosts[str(flow.destination_host)]
            if flow.source not in collector.serves:
                raise TopologyError(f"{what}: {collector.name} does not serve {flow.source!r}")

    def _check_camera_flow(self, flow: Flow, what: str) -> None:
        """Cameras speak only NTP and syslog, and only to the collector that serves them."""
        collector = self.hosts.get(flow.destination_host or "")
        allowed = {NTP_PORT, SYSLOG_PORT}
        if (
            collector is None
            or collector.role != "collector"
            or flow.source not in collector.serves
            or flow.protocol != "udp"
            or not set(flow.ports) <= allowed
        ):
            raise TopologyError(f"{what}: cameras send only NTP and syslog to their collector")

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

    def role_of(self, host_name: str | None) -> str | None:
        host = self.hosts.get(host_name) if host_name else None
        return host.role if host else None

    def soc_hosts(self) -> tuple[Host, ...]:
        """The SOC's own hosts (sensors, collectors, event store, SOC API, bastion)."""
        return tuple(h for h in self.model.hosts if h.is_soc_host)

    def flows_into(self, segment: str, host: str | None = None) -> tuple[Flow, ...]:
        """Flows a segment (or one of its hosts) accepts."""
        return tuple(
            f for f in self.model.flows
            if f.destination == segment and f.destination_host in (None, host)
        )  # fmt: skip

    def flows_out_of(self, segment: str, host: str | None = None) -> tuple[Flow, ...]:
        """Flows a segment (or one of its hosts) may open."""
        return tuple(
            f for f in self.model.flows
            if f.source == segment and f.source_host in (None, host)
        )  # fmt: skip

    def source_network(self, flow: Flow) -> IpNetwork:
        """The addresses a flow may come from: its host, its segment, or anywhere."""
        return self._network(flow.source, flow.source_host)

    def destination_network(self, flow: Flow) -> IpNetwork:
        """The addresses a flow may go to: its host, its segment, or anywhere."""
        return self._network(flow.destination, flow.destination_host)

    def _network(self, segment: str, host: str | None) -> IpNetwork:
        if host is not None:
            return ipaddress.ip_network(self.hosts[host].address)
        if segment == INTERNET:
            return ipaddress.ip_network("0.0.0.0/0")
        return self.segments[segment].cidr

    def sensors_of(self, segment: str) -> tuple[Host, ...]:
        """The sensors that watch a segment (a mirrored port in it)."""
        return tuple(h for h in self.model.hosts if h.role == "sensor" and segment in h.monitors)

    def collector_of(self, segment: str) -> Host | None:
        """The collector that receives a segment's syslog and serves it time."""
        return next((h for h in self.model.hosts if segment in h.serves), None)


def _check_segment(seg: Segment, agencies: dict[str, Agency]) -> None:
    if seg.agency not in agencies:
        raise TopologyError(f"segment {seg.id!r} names unknown agency {seg.agency!r}")
    if seg.tier is not None and seg.kind != "datacentre":
        raise TopologyError(f"segment {seg.id!r}: only data-centre segments have a tier")
    if seg.kind == "camera" and seg.vlan is None:
        raise TopologyError(f"segment {seg.id!r}: camera networks need a VLAN id")
    for system in seg.systems:
        if system.security_level > seg.security_level:
            raise TopologyError(
                f"segment {seg.id!r} (level {seg.security_level}) holds system {system.id!r} "
                f"of level {system.security_level}: a segment's level is its highest system's"
            )


def _pairs(items: tuple[Segment, ...]) -> Iterator[tuple[Segment, Segment]]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file; errors name the file and the offending entry."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
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
