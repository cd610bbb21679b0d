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
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
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
THREAT_METADATA = {
    "mitre_tactic_id": "threat.tactic.id",
    "mitre_tactic_name": "threat.tactic.name",
    "mitre_technique_id": "threat.technique.id",
    "mitre_technique_name": "threat.technique.name",
}
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
    epoch = _time(when)
    if epoch is None:
        stats.error("eve-bad-timestamp", location, f"{when[:40]!r} is not an ISO time with zone")
        return None
    stats.parsed += 1
    return _event(record, kind, _stamp(when, epoch), line)


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


SCALARS = frozenset({str, int, float, bool})


def _put(event: Event, name: str, value: Any) -> None:
    if type(value) in SCALARS and value != "":
        event[name] = value


def _network(r: dict[str, Any], event: Event) -> None:
    _put(event, "source.ip", r.get("src_ip"))
    _put(event, "source.port", r.get("src_port"))
    _put(event, "destination.ip", r.get("dest_ip"))
    _put(event, "destination.port", r.get("dest_port"))
    if isinstance(r.get("proto"), str):
        event["network.transport"] = r["proto"].lower()
    _put(event, "source.address", r.get("src_ip"))
    _put(event, "destination.address", r.get("dest_ip"))
    app = r.get("app_proto")
    if isinstance(app, str) and app.lower() not in NOT_A_PROTOCOL:
        event["network.protocol"] = "ftp" if app.lower() == "ftp-data" else app.lower()
    elif r.get("event_type") in PROTOCOL_OF_TYPE:
        event["network.protocol"] = PROTOCOL_OF_TYPE[r["event_type"]]
    ether = r.get("ether")
    if isinstance(ether, dict):
        _put(event, "source.mac", ether.get("src_mac"))
        _put(event, "destination.mac", ether.get("dest_mac"))
    _put(event, "network.community_id", r.get("community_id"))
    _put(event, "observer.ingress.interface.name", r.get("in_iface"))
    vlan = r.get("vlan")
    if isinstance(vlan, list) and vlan and isinstance(vlan[0], int):
        event["network.vlan.id"] = str(vlan[0])


def _alert(a: dict[str, Any], event: Event) -> None:
    _put(event, "rule.id", str(a["signature_id"]) if "signature_id" in a else None)
    _put(event, "rule.name", a.get("signature"))
    _put(event, "rule.category", a.get("category"))
    _put(event, "event.severity", a.get("severity"))
    action = a.get("action")
    if isinstance(action, str):
        event["event.type"] = "denied" if action == "blocked" else "allowed"
        event["event.action"] = action
    event["event.category"] = "intrusion_detection"
    event["message"] = str(a.get("signature", "Suricata alert"))
    metadata = a.get("metadata")
    if isinstance(metadata, dict):
        for key, name in THREAT_METADATA.items():
            _put(event, name, _one(metadata.get(key)))


def _one(value: object) -> object:
    """A metadata value (Suricata writes lists) as one scalar: the element, or them joined."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value if isinstance(v, str | int | float))
    return value


def _flow(f: dict[str, Any], event: Event) -> None:
    for ecs_name, key in (
        ("source.packets", "pkts_toserver"),
        ("source.bytes", "bytes_toserver"),
        ("destination.packets", "pkts_toclient"),
        ("destination.bytes", "bytes_toclient"),
    ):
        _put(event, ecs_name, f.get(key))
    if isinstance(f.get("pkts_toserver"), int) and isinstance(f.get("pkts_toclient"), int):
        event["network.packets"] = f["pkts_toserver"] + f["pkts_toclient"]
    if isinstance(f.get("bytes_toserver"), int) and isinstance(f.get("bytes_toclient"), int):
        event["network.bytes"] = f["bytes_toserver"] + f["bytes_toclient"]
    start, end = _time(f.get("start")), _time(f.get("end"))
    if start is not None:
        event["event.start"] = _stamp(f["start"], start)
    if end is not None:
        event["event.end"] = _stamp(f["end"], end)
    if start is not None and end is not None:
        event["event.duration"] = round((end - start) * 1e9)
    state = f.get("state")
    event["event.type"] = (
        "end" if state == "closed" else "start" if state == "new" else "connection"
    )


def _dns(d: dict[str, Any], event: Event) -> None:
    queries = d.get("queries")
    first = queries[0] if isinstance(queries, list) and queries else None
    question: dict[str, Any] = first if isinstance(first, dict) else d
    _put(event, "dns.type", d.get("type") or ("answer" if "answers" in d else "query"))
    _put(event, "dns.id", str(d["id"]) if "id" in d else None)
    _put(event, "dns.question.name", question.get("rrname"))
    _put(event, "dns.question.type", question.get("rrtype"))
    _put(event, "dns.response_code", d.get("rcode"))
    answers = d.get("answers")
    resolved = [
        a.get("rdata")
        for a in (answers if isinstance(answers, list) else [])
        if isinstance(a, dict) and a.get("rrtype") in ("A", "AAAA")
    ]
    _put(event, "dns.resolved_ip", resolved[0] if resolved else None)


def _http(h: dict[str, Any], event: Event) -> None:
    _put(event, "url.domain", h.get("hostname"))
    _put(event, "destination.domain", h.get("hostname"))
    url = h.get("url")
    if isinstance(url, str):
        event["url.original"] = url
        parts = urlsplit(url)
        event["url.path"] = parts.path or "/"
        _put(event, "url.query", parts.query)
        _put(event, "url.fragment", parts.fragment)
    status = h.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        event["event.outcome"] = "success" if status < 400 else "failure"
    _put(event, "http.request.method", h.get("http_method"))
    _put(event, "http.response.status_code", h.get("status"))
    _put(event, "http.response.body.bytes", h.get("length"))
    _put(event, "user_agent.original", h.get("http_user_agent"))
    _put(event, "http.request.referrer", h.get("http_refer"))
    _put(event, "http.response.mime_type", h.get("http_content_type"))
    if isinstance(h.get("protocol"), str):
        event["http.version"] = h["protocol"].partition("/")[2]


def _tls(t: dict[str, Any], event: Event) -> None:
    version = t.get("version")
    if isinstance(version, str) and " " in version:
        proto, _, number = version.partition(" ")
        event["tls.version_protocol"], event["tls.version"] = proto.lower(), number
    _put(event, "tls.client.server_name", t.get("sni"))
    _put(event, "destination.domain", t.get("sni"))
    _put(event, "tls.server.subject", t.get("subject"))
    _put(event, "tls.server.issuer", t.get("issuerdn"))
    _put(event, "tls.server.not_before", t.get("notbefore"))
    _put(event, "tls.server.not_after", t.get("notafter"))
    _put(event, "tls.server.x509.serial_number", t.get("serial"))
    _put(event, "tls.resumed", t.get("session_resumed"))
    if isinstance(t.get("fingerprint"), str):
        event["tls.server.hash.sha1"] = t["fingerprint"].replace(":", "").upper()
    for side, key in (("client", "ja3"), ("server", "ja3s")):
        ja = t.get(key)
        if isinstance(ja, dict):
            _put(event, f"tls.{side}.{key}", ja.get("hash"))


def _fileinfo(f: dict[str, Any], event: Event) -> None:
    name = f.get("filename")
    _put(event, "file.path", name)
    _put(event, "file.name", name.rsplit("/", 1)[-1] if isinstance(name, str) else None)
    _put(event, "file.size", f.get("size"))
    for algo in ("md5", "sha1", "sha256"):
        _put(event, f"file.hash.{algo}", f.get(algo))
    _put(event, "file.mime_type", f.get("mimetype"))


def _anomaly(a: dict[str, Any], event: Event) -> None:
    _put(event, "message", a.get("event") or a.get("type"))


MAPPERS: dict[str, Callable[[dict[str, Any], Event], None]] = {
    "alert": _alert,
    "flow": _flow,
    "dns": _dns,
    "http": _http,
    "tls": _tls,
    "fileinfo": _fileinfo,
    "anomaly": _anomaly,
}


def _time(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 time with a zone that ECS can write, else ``None``."""
    if type(value) is not str:
        return None
    if len(value) == 31 and value[19] == "." and value.endswith("+0000"):
        fast = _utc_epoch(value)
        if fast is not None:
            return fast
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return None
        epoch = moment.timestamp()
        ecs.timestamp(epoch)
    except (ValueError, OverflowError, OSError):
        return None
    return epoch


def _stamp(value: str, epoch: float) -> str:
    """ECS timestamp of an EVE time: sliced from Suricata's usual UTC form, else formatted."""
    if (  # the caller has read it as a time already; only the layout matters here
        len(value) == 31
        and value.endswith("+0000")
        and value[19] == "."
        and value[4] + value[7] + value[10] + value[13] + value[16] == "--T::"
    ):
        return value[:23] + "Z"
    return ecs.timestamp(epoch)


_DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _utc_epoch(value: str) -> float | None:
    """Suricata's usual ``YYYY-MM-DDTHH:MM:SS.ffffff+0000`` without datetime (hot path)."""
    try:
        year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
        hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
        micro = int(value[20:26])
    except ValueError:
        return None
    if (
        not (
            1970 <= year <= 9999
            and 1 <= month <= 12
            and 1 <= day <= 28
            and hour < 24
            and minute < 60
            and second < 60
        )
        or value[4] + value[7] + value[10] != "--T"
    ):
        return None  # anything unusual takes the careful path  # fmt: skip
    days = (year - 1970) * 365 + (year - 1969) // 4 - (year - 1901) // 100 + (year - 1601) // 400
    days += _DAYS_BEFORE_MONTH[month] + day - 1
    if month > 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days += 1
    return days * 86400 + hour * 3600 + minute * 60 + second + micro / 1e6
