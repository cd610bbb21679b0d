"""Suricata EVE JSON (Suricata 7) to flat ECS, as Elastic's Suricata integration maps it.

Every record gains the ECS fields: ``rule.*`` and ``event.severity`` for alerts,
``source.*``/``destination.*`` and ``network.*`` for every record with a flow, and
``dns.*``, ``http.*``/``url.*``, ``tls.*``, ``file.*`` per event type. ``event.kind`` is
``alert`` for alerts, ``metric`` for stats and ``event`` otherwise. Its other fields stay under
``suricata.eve.*`` (flattened; lists become JSON text). Like Elastic's integration, the fields
it renames to ECS (``MOVED``: addresses and ports, the flow's counts and times, most HTTP
fields, ...) are not also kept there: a value is stored once, at its ECS field, or under
``suricata.eve.*`` when it does not fit the ECS field (its type in the ECS reference,
``citysoc/core/ecs_fields.yml``). ``event.original`` keeps the line.

``event.category``/``event.type`` are ECS arrays; ``observer.*`` names the sensor (OISF
Suricata, an IDS); MACs are written as ECS writes them; the Community ID is computed when the
sensor wrote none; ``related.*`` gathers the event's addresses, host names and hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.community_id import community_id, protocol_number
from collectors.delivery.raw_lines import RawLines
from collectors.related import EVE_GROUPS, add_related
from collectors.sources.eve_fields import MAPPERS, SCALARS, kinded, put, put_all, read_stamp
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

NETWORK = ("network",)
CATEGORY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # ECS categories and types
    "alert": (("network", "intrusion_detection"), ("info",)),  # allowed/denied from the action
    "flow": (NETWORK, ("connection",)),  # and start/end from the flow's state
    "dns": (NETWORK, ("protocol",)),
    "http": (("network", "web"), ("access", "protocol")),
    "http2": (("network", "web"), ("access", "protocol")),
    "tls": (NETWORK, ("protocol",)),
    "fileinfo": (("file",), ("info",)),
    "anomaly": (NETWORK, ("info",)),
    "stats": (NETWORK, ("info",)),
}
OBSERVER = {"observer.vendor": "OISF", "observer.product": "Suricata", "observer.type": "ids"}
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
PARSER = "suricata.eve"  # its name for lines handed over unparsed (collectors.delivery.raw_lines)
BATCH_LINES = 2000
MAX_LINE = 1024 * 1024
MAX_DEPTH = 8
SECTIONS = ("flow", "http", "tls", "dns", "fileinfo")
_ID_PREFIX = b"suricata.eve\x1f"
ENDPOINTS = kinded(
    (
        ("source.ip", "src_ip"),
        ("source.port", "src_port"),
        ("destination.ip", "dest_ip"),
        ("destination.port", "dest_port"),
        ("source.address", "src_ip"),
        ("destination.address", "dest_ip"),
        ("network.community_id", "community_id"),
        ("observer.ingress.interface.name", "in_iface"),
    )
)
MOVED = {  # keys Elastic's integration renames to ECS fields instead of copying: not kept twice
    "suricata.eve.": ("timestamp", "src_ip", "src_port", "dest_ip", "dest_port", "proto"),
    "suricata.eve.ether.": ("src_mac", "dest_mac"),
    "suricata.eve.flow.": (
        "pkts_toserver",
        "pkts_toclient",
        "bytes_toserver",
        "bytes_toclient",
        "start",
        "end",
    ),
    "suricata.eve.http.": (
        "hostname",
        "url",
        "status",
        "length",
        "http_method",
        "http_user_agent",
        "http_refer",
    ),
    "suricata.eve.fileinfo.": ("filename", "size"),
    "suricata.eve.alert.": ("action", "severity"),
}


def read_eve(path: Path, stats: CollectorStats) -> Iterator[Event]:
    """Events of an EVE file; a last line without newline is half-written and not parsed."""
    return _events(read_eve_lines(path, stats), stats)  # opens the file now: errors come here


def _events(batches: Iterator[RawLines], stats: CollectorStats) -> Iterator[Event]:
    for batch in batches:  # not a nested generator expression: compiled, it leaked every event
        yield from parse_lines(batch, stats)


def read_eve_lines(
    path: Path, stats: CollectorStats, *, batch_lines: int = BATCH_LINES
) -> Iterator[RawLines]:
    """The whole lines of an EVE file in batches, not yet parsed (see :func:`parse_lines`)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CollectorError(f"cannot open EVE file: {exc}", location=Location(str(path))) from exc
    return _batches(handle, str(path), stats, batch_lines)


def _batches(handle: BinaryIO, source: str, stats: CollectorStats, size: int) -> Iterator[RawLines]:
    with handle:
        first = 1
        while lines := list(islice(handle, size)):
            number = first + len(lines)  # the line after these
            if not lines[-1].endswith(b"\n"):  # only the file's last line: it is being written
                partial = lines.pop()
                stats.received += 1
                where = Location(source, line=number - 1)
                stats.error("eve-partial-line", where, f"{len(partial)} bytes without newline")
            if lines:
                yield RawLines(PARSER, source, first, lines)
            first = number


def parse_lines(batch: RawLines, stats: CollectorStats) -> list[Event]:
    """The events of a batch of whole EVE lines; bad lines are counted with their location."""
    events: list[Event] = []
    keep = events.append
    for index, raw in enumerate(batch.lines):
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            stats.skip("empty-line")
            continue
        event = _parse(line)  # a Location is made only for a bad line: most lines are good
        if isinstance(event, tuple):
            stats.error(event[0], batch.location(index), event[1])
        else:
            keep(event)
    stats.received += len(batch.lines)
    stats.parsed += len(events)
    stats.events += len(events)
    return events


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
    event = _parse(line)
    if isinstance(event, dict):
        stats.parsed += 1
        return event
    stats.error(event[0], location, event[1])
    return None


def _parse(line: str) -> Event | tuple[str, str]:
    """One EVE record to an event, or the reason and detail of its refusal."""
    if len(line) > MAX_LINE:
        return "eve-line-too-long", f"{len(line)} characters"
    try:
        record = orjson.loads(line)  # about three times faster than json
    except orjson.JSONDecodeError:  # what orjson refuses, json may take (NaN, huge numbers)
        try:
            record = _scrub(json.loads(line), 0)
        except (ValueError, RecursionError) as exc:
            return "eve-not-json", str(exc)[:200]
    if type(record) is not dict:
        return "eve-not-object", f"JSON {type(record).__name__}"
    kind, when = record.get("event_type"), record.get("timestamp")
    if type(kind) is not str or type(when) is not str:
        return "eve-missing-field", "event_type or timestamp missing"
    stamped = read_stamp(when)
    if stamped is None:
        return "eve-bad-timestamp", f"{when[:40]!r} is not an ISO time with zone"
    return _event(record, kind, stamped, line)


def _event(record: dict[str, Any], kind: str, stamped: tuple[float, str], line: str) -> Event:
    head = _head(kind)
    event: Event = {
        "@timestamp": stamped[1],
        **head,
        "event.id": eve_event_id(stamped[0], record.get("flow_id", ""), line),
        "event.original": line,
    }
    event["event.category"] = list(head["event.category"])  # each event its own lists
    event["event.type"] = list(head["event.type"])
    _flatten(record, "suricata.eve.", event)
    _network(record, event)
    for section in SECTIONS:  # alerts carry flow/http/tls/... sections too
        if section != kind and type(record.get(section)) is dict:
            MAPPERS[section](record[section], event)
    mapper, own = MAPPERS.get(kind), record.get(kind)
    if mapper is not None:
        mapper(own if type(own) is dict else {}, event)
    add_related(event, EVE_GROUPS)
    return event


_HEADS: dict[str, Event] = {}  # event_type -> the fields that follow from it (bounded)


def _head(kind: str) -> Event:
    head = _HEADS.get(kind)
    if head is None:
        category, etype = CATEGORY.get(
            kind, (NETWORK, ("protocol",) if kind in PROTOCOL_OF_TYPE else ("info",))
        )
        head = {
            "ecs.version": ecs.ECS_VERSION,
            "event.kind": "alert" if kind == "alert" else "metric" if kind == "stats" else "event",
            "event.category": category,  # tuples here: _event gives each event its own list
            "event.type": etype,
            "event.action": kind,
            "event.module": "suricata",
            "event.dataset": "suricata.eve",
            **OBSERVER,
        }
        if len(_HEADS) < MAX_NAMES:
            _HEADS[kind] = head
    return head


def eve_event_id(at: float, flow_id: object, line: str) -> str:
    """``ecs.event_id("suricata.eve", flow_id, line, at=at)``, hashed in one update (hot path)."""
    digest = hashlib.blake2b(_ID_PREFIX, digest_size=10)
    digest.update(ecs.utf8(f"{flow_id}\x1f{line}\x1f"))
    return ecs.time_prefix(at) + digest.hexdigest()


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _scrub(value: Any, depth: int) -> Any:
    """``value`` with each lone surrogate (a JSON ``\\ud800`` escape) made U+FFFD.

    Only json's fallback parse lets them through; no store can encode them. Levels below
    the ones :func:`_flatten` walks are written with ``json.dumps``, which escapes them.
    """
    kind = type(value)
    if kind is str:
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if depth > MAX_DEPTH:
        return value
    if kind is dict:
        return {_scrub(k, depth): _scrub(v, depth + 1) for k, v in value.items()}
    if kind is list:
        return [_scrub(item, depth + 1) for item in value]
    return value


def _flatten(doc: Mapping[str, Any], prefix: str, out: Event, depth: int = 0) -> None:
    names = _names_under(prefix)
    for key, value in doc.items():
        name = names.get(key)
        if not name:
            if name is None:
                name = _name(names, prefix, key)
            elif type(value) in SCALARS and value != "":
                continue  # a key that moves: its mapper puts the value in its ECS field
            else:
                name = prefix + key
        kind = type(value)  # exact types: json.loads makes nothing else, and it is hot
        if kind is dict and depth < MAX_DEPTH:
            _flatten(value, name + ".", out, depth + 1)
        elif kind is list or kind is dict:
            out[name] = json.dumps(value, sort_keys=True)
        elif value is not None:
            out[name] = value


_NAMES: dict[str, dict[str, str]] = {}  # prefix -> key -> prefix + key ("" if it moves)
MAX_NAMES = 4096


def _names_under(prefix: str) -> dict[str, str]:
    names = _NAMES.get(prefix)
    if names is None:
        names = dict.fromkeys(MOVED.get(prefix, ()), "")
        if len(_NAMES) < MAX_NAMES:
            _NAMES[prefix] = names
    return names


def _name(names: dict[str, str], prefix: str, key: str) -> str:
    name = prefix + key
    if len(names) < MAX_NAMES:
        names[key] = name
    return name


def _network(r: dict[str, Any], event: Event) -> None:
    put_all(event, r, ENDPOINTS, "suricata.eve.")  # addresses, ports, ...: one pass
    proto = r.get("proto")
    if isinstance(proto, str):
        event["network.transport"] = proto.lower()
    else:
        put(event, "suricata.eve.proto", proto)  # moves only to where it fits
    app = r.get("app_proto")
    app = app.lower() if isinstance(app, str) else None
    if app is not None and app not in NOT_A_PROTOCOL:
        event["network.protocol"] = "ftp" if app == "ftp-data" else app
    elif r.get("event_type") in PROTOCOL_OF_TYPE:
        event["network.protocol"] = PROTOCOL_OF_TYPE[r["event_type"]]
    ether = r.get("ether")
    if isinstance(ether, dict):
        for side, key in (("source", "src"), ("destination", "dest")):
            _mac(ether, key, f"{side}.mac", event)
    if "network.community_id" not in event:
        flow_hash = _community_id(r, proto)
        if flow_hash is not None:
            event["network.community_id"] = flow_hash
    vlan = r.get("vlan")
    if isinstance(vlan, list) and vlan and isinstance(vlan[0], int):
        event["network.vlan.id"] = str(vlan[0])


def _mac(ether: dict[str, Any], key: str, name: str, event: Event) -> None:
    """ECS form of a MAC address (``00-1B-17-00-01-18``): Suricata's ``src_mac`` (a packet)
    or the first of ``src_macs`` (a flow); one that is not a MAC stays under ``suricata.eve``."""
    value = ether.get(f"{key}_mac")
    if value is None:
        several = ether.get(f"{key}_macs")
        value = several[0] if isinstance(several, list) and several else None
        if value is None or _ecs_mac(value) is None:
            return  # the list itself stays under suricata.eve.ether
    mac = _ecs_mac(value)
    if mac is not None:
        event[name] = mac
    else:
        put(event, f"suricata.eve.ether.{key}_mac", value)


def _ecs_mac(value: object) -> str | None:
    if type(value) is not str or len(value) != 17:
        return None
    mac = value.replace(":", "-").upper()
    if mac[2::3] != "-----" or not all(c in "0123456789ABCDEF" for c in mac.replace("-", "")):
        return None
    return mac


def _community_id(r: dict[str, Any], proto: object) -> str | None:
    """The flow's Community ID computed from the record, for a sensor that did not write it."""
    source, destination = r.get("src_ip"), r.get("dest_ip")
    number = protocol_number(proto)
    if type(source) is not str or type(destination) is not str or number is None:
        return None
    if number in (1, 58):
        first, second = r.get("icmp_type"), r.get("icmp_code")
    else:
        first, second = r.get("src_port"), r.get("dest_port")
    return community_id(
        source,
        destination,
        number,
        first if type(first) is int else None,
        second if type(second) is int else None,
    )
