"""Suricata EVE JSON (Suricata 7) to flat ECS, as Elastic's Suricata integration maps it.

Every record keeps its raw fields under ``suricata.eve.*`` (flattened; lists become JSON
text) and gains the ECS fields: ``rule.*`` and ``event.severity`` for alerts,
``source.*``/``destination.*`` and ``network.*`` for every record with a flow, and
``dns.*``, ``http.*``/``url.*``, ``tls.*``, ``file.*`` per event type. ``event.kind`` is
``alert`` for alerts, ``metric`` for stats and ``event`` otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.eve_fields import MAPPERS, ecs_stamp, put, read_time
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

CATEGORY = {  # Elastic files every record under "network" too; we keep the specific one
    "alert": ("intrusion_detection", "info"),
    "flow": ("network", "connection"),
    "dns": ("network", "protocol"),
    "http": ("web", "access"),
    "http2": ("web", "access"),
    "tls": ("network", "protocol"),
    "fileinfo": ("file", "info"),
    "anomaly": ("network", "info"),
    "stats": ("network", "info"),
}
PROTOCOL_OF_TYPE = {
    "dns": "dns",
    "http": "http",
    "http2": "http",
    "tls": "tls",
    "ssh": "ssh",
    "smtp": "smtp",
    "ftp": "ftp",
    "ftp_data": "ftp",
    "mqtt": "mqtt",
    "smb": "smb",
    "rdp": "rdp",
    "rfb": "rfb",
    "tftp": "tftp",
    "modbus": "modbus",
}
NOT_A_PROTOCOL = ("failed", "unknown", "template", "template-rust")
MAX_LINE = 1024 * 1024
MAX_DEPTH = 8
SECTIONS = ("flow", "http", "tls", "dns", "fileinfo")


def read_eve(path: Path, stats: CollectorStats) -> Iterator[Event]:
    """Events of an EVE file; a last line without newline is half-written and not parsed."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CollectorError(f"cannot open EVE file: {exc}", location=Location(str(path))) from exc
    return _read(handle, path, stats)


def _read(handle: BinaryIO, path: Path, stats: CollectorStats) -> Iterator[Event]:
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = Location(str(path), line=number)
            if not raw.endswith(b"\n"):
                stats.received += 1
                stats.error("eve-partial-line", where, f"{len(raw)} bytes without newline")
                continue
            event = parse_eve_bytes(raw, where, stats)
            if event is not None:
                yield event


def parse_eve_bytes(raw: bytes, location: Location, stats: CollectorStats) -> Event | None:
    """One raw EVE line (newline optional) to an event, counting it in ``stats``."""
    stats.received += 1
    line = raw.decode("utf-8", "replace").strip()
    if not line:
        stats.skip("empty-line")
        return None
    event = parse_eve_line(line, location, stats)
    if event is not None:
        stats.events += 1
    return event


def parse_eve_line(line: str, location: Location, stats: CollectorStats) -> Event | None:
    """One EVE record to an event, or ``None`` (counted in ``stats``) when it is unusable."""
    if len(line) > MAX_LINE:
        stats.error("eve-line-too-long", location, f"{len(line)} characters")
        return None
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:
        stats.error("eve-not-json", location, str(exc)[:200])
        return None
    if not isinstance(record, dict):
        stats.error("eve-not-object", location, f"JSON {type(record).__name__}")
        return None
    kind, when = record.get("event_type"), record.get("timestamp")
    if not isinstance(kind, str) or not isinstance(when, str):
        stats.error("eve-missing-field", location, "event_type or timestamp missing")
        return None
    epoch = read_time(when)
    if epoch is None:
        stats.error("eve-bad-timestamp", location, f"{when[:40]!r} is not an ISO time with zone")
        return None
    stats.parsed += 1
    return _event(record, kind, ecs_stamp(when, epoch), line)


def _event(record: dict[str, Any], kind: str, stamp: str, line: str) -> Event:
    category, etype = CATEGORY.get(
        kind, ("network", "protocol" if kind in PROTOCOL_OF_TYPE else "info")
    )
    event: Event = {
        "@timestamp": stamp,
        "ecs.version": ecs.ECS_VERSION,
        "event.id": ecs.event_id("suricata.eve", record.get("flow_id", ""), line),
        "event.kind": "alert" if kind == "alert" else "metric" if kind == "stats" else "event",
        "event.category": category,
        "event.type": etype,
        "event.action": kind,
        "event.module": "suricata",
        "event.dataset": "suricata.eve",
        "event.original": line,
    }
    _flatten(record, "suricata.eve.", event)
    _network(record, event)
    for section in SECTIONS:  # alerts carry flow/http/tls/... sections too
        if section != kind and isinstance(record.get(section), dict):
            MAPPERS[section](record[section], event)
    mapper, own = MAPPERS.get(kind), record.get(kind)
    if mapper is not None:
        mapper(own if isinstance(own, dict) else {}, event)
    return event


def _flatten(doc: Mapping[str, Any], prefix: str, out: Event, depth: int = 0) -> None:
    for key, value in doc.items():
        kind = type(value)  # exact types: json.loads makes nothing else, and it is hot
        if kind is dict and depth < MAX_DEPTH:
            _flatten(value, f"{prefix}{key}.", out, depth + 1)
        elif kind is list or kind is dict:
            out[prefix + key] = json.dumps(value, sort_keys=True)
        elif value is not None:
            out[prefix + key] = value


def _network(r: dict[str, Any], event: Event) -> None:
    put(event, "source.ip", r.get("src_ip"))
    put(event, "source.port", r.get("src_port"))
    put(event, "destination.ip", r.get("dest_ip"))
    put(event, "destination.port", r.get("dest_port"))
    if isinstance(r.get("proto"), str):
        event["network.transport"] = r["proto"].lower()
    put(event, "source.address", r.get("src_ip"))
    put(event, "destination.address", r.get("dest_ip"))
    app = r.get("app_proto")
    if isinstance(app, str) and app.lower() not in NOT_A_PROTOCOL:
        event["network.protocol"] = "ftp" if app.lower() == "ftp-data" else app.lower()
    elif r.get("event_type") in PROTOCOL_OF_TYPE:
        event["network.protocol"] = PROTOCOL_OF_TYPE[r["event_type"]]
    ether = r.get("ether")
    if isinstance(ether, dict):
        put(event, "source.mac", ether.get("src_mac"))
        put(event, "destination.mac", ether.get("dest_mac"))
    put(event, "network.community_id", r.get("community_id"))
    put(event, "observer.ingress.interface.name", r.get("in_iface"))
    vlan = r.get("vlan")
    if isinstance(vlan, list) and vlan and isinstance(vlan[0], int):
        event["network.vlan.id"] = str(vlan[0])
