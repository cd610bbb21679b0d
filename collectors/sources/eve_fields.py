"""The per-section EVE mappers (alert, flow, dns, http, tls, fileinfo, anomaly) and time reading.

Each mapper adds the ECS fields of one EVE section to a flat event, as Elastic's Suricata
integration does; :func:`_time` and :func:`_stamp` read Suricata's timestamps (its usual
UTC form without ``datetime``, which the hot path needs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import INTEGERS, NUMBERS, reference
from collectors.domains import bare, domain_parts

THREAT_METADATA = {
    "mitre_tactic_id": "threat.tactic.id",
    "mitre_tactic_name": "threat.tactic.name",
    "mitre_technique_id": "threat.technique.id",
    "mitre_technique_name": "threat.technique.name",
}
SCALARS = frozenset({str, int, float, bool})


ANY, TEXT, INTEGER, NUMBER, BOOLEAN, ADDRESS = range(6)  # what an ECS field takes


def _kinds() -> dict[str, int]:
    """What each ECS field of the reference takes (``long``: an int, not a bool)."""
    kinds: dict[str, int] = {}
    for name, spec in reference().fields.items():
        if spec.type in INTEGERS:
            kinds[name] = INTEGER
        elif spec.type in NUMBERS:
            kinds[name] = NUMBER
        elif spec.type == "boolean":
            kinds[name] = BOOLEAN
        elif spec.type == "ip":
            kinds[name] = ADDRESS
        elif spec.type not in ("object", "flattened"):
            kinds[name] = TEXT
    return kinds


KINDS = _kinds()
_IP_TEXT: dict[str, bool] = {}  # address text -> whether it is one (bounded)


def fits(kind: int, value: Any) -> bool:
    """Whether a value is a non-empty scalar of the ``kind`` an ECS field takes."""
    t = type(value)
    if kind == TEXT:
        return t is str and value != ""
    if kind == INTEGER:
        return t is int
    if kind == ADDRESS:
        if t is not str:
            return False
        known = _IP_TEXT.get(value)
        if known is None:
            known = _is_ip(value)
            if len(_IP_TEXT) >= 65536:
                _IP_TEXT.clear()
            _IP_TEXT[value] = known
        return known
    if kind == NUMBER:
        return t is int or t is float
    if kind == BOOLEAN:
        return t is bool
    return (t is str and value != "") or t is int or t is float or t is bool


def put(event: Event, name: str, value: Any, elsewhere: str = "") -> None:
    """``event[name] = value`` for a value that fits the field; a non-empty scalar that does
    not goes to ``elsewhere`` (the ``suricata.eve.*`` name of a key that moves), if given."""
    if fits(KINDS.get(name, ANY), value):
        event[name] = value
    elif elsewhere and type(value) in SCALARS and value != "":
        event[elsewhere] = value


def kinded(names: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, int], ...]:
    """``(ecs_name, key)`` pairs with what each ECS field takes, for :func:`put_all`."""
    return tuple((name, key, KINDS.get(name, ANY)) for name, key in names)


def put_all(
    event: Event, section: dict[str, Any], names: tuple[tuple[str, str, int], ...], prefix: str
) -> None:
    """:func:`put` of each ``(ecs_name, key, kind)`` of a section (see :func:`kinded`), a
    value that does not fit going to ``prefix + key``: one call per section, which is hot."""
    for name, key, kind in names:
        value = section.get(key)
        if value is None:
            continue
        if fits(kind, value):
            event[name] = value
        elif type(value) in SCALARS and value != "":
            event[prefix + key] = value


def _alert(a: dict[str, Any], event: Event) -> None:
    put(event, "rule.id", str(a["signature_id"]) if "signature_id" in a else None)
    put(event, "rule.name", a.get("signature"))
    put(event, "rule.category", a.get("category"))
    put(event, "event.severity", a.get("severity"), "suricata.eve.alert.severity")
    action = a.get("action")
    if isinstance(action, str):
        event["event.type"] = ["denied"] if action == "blocked" else ["allowed"]
        event["event.action"] = action
    else:
        put(event, "suricata.eve.alert.action", action)
    event["message"] = str(a.get("signature", "Suricata alert"))
    metadata = a.get("metadata")
    if isinstance(metadata, dict):
        for key, name in THREAT_METADATA.items():
            values = _strings(metadata.get(key))
            if values:
                event[name] = values


def _strings(value: object) -> list[str]:
    """A metadata value (Suricata writes lists) as the list of its text values."""
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if isinstance(v, str | int | float) and v != ""]


FLOW_COUNTS = kinded(
    (
        ("source.packets", "pkts_toserver"),
        ("source.bytes", "bytes_toserver"),
        ("destination.packets", "pkts_toclient"),
        ("destination.bytes", "bytes_toclient"),
    )
)


def _flow(f: dict[str, Any], event: Event) -> None:
    put_all(event, f, FLOW_COUNTS, "suricata.eve.flow.")
    to_server, to_client = f.get("pkts_toserver"), f.get("pkts_toclient")
    if isinstance(to_server, int) and isinstance(to_client, int):
        event["network.packets"] = to_server + to_client
    to_server, to_client = f.get("bytes_toserver"), f.get("bytes_toclient")
    if isinstance(to_server, int) and isinstance(to_client, int):
        event["network.bytes"] = to_server + to_client
    start, end = read_stamp(f.get("start")), read_stamp(f.get("end"))
    if start is not None:
        event["event.start"] = start[1]
    else:
        put(event, "suricata.eve.flow.start", f.get("start"))
    if end is not None:
        event["event.end"] = end[1]
    else:
        put(event, "suricata.eve.flow.end", f.get("end"))
    if start is not None and end is not None:
        event["event.duration"] = round((end[0] - start[0]) * 1e6) * 1000  # EVE has µs
    state = f.get("state")
    event["event.type"] = (
        ["connection", "end"]
        if state == "closed"
        else ["connection", "start"]
        if state == "new"
        else ["connection"]
    )


FLAG_BITS = ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"), (0x0020, "AD"))
FLAG_BITS_CD = (0x0010, "CD")
FLAG_KEYS = (("aa", "AA"), ("tc", "TC"), ("rd", "RD"), ("ra", "RA"))  # Suricata 7's booleans
ADDRESS_TYPES = ("A", "AAAA")


def _dns(d: dict[str, Any], event: Event) -> None:
    queries = d.get("queries")
    first = queries[0] if isinstance(queries, list) and queries else None
    question: dict[str, Any] = first if isinstance(first, dict) else d
    put(event, "dns.type", d.get("type") or ("answer" if "answers" in d else "query"))
    put(event, "dns.id", str(d["id"]) if "id" in d else None)
    name = question.get("rrname")
    if type(name) is str and name:
        name = bare(name)
        event["dns.question.name"] = name
        parts = domain_parts(name)
        if parts is not None:
            event["dns.question.registered_domain"] = parts[0]
            event["dns.question.top_level_domain"] = parts[1]
            if parts[2]:
                event["dns.question.subdomain"] = parts[2]
    put(event, "dns.question.type", question.get("rrtype"))
    put(event, "dns.response_code", d.get("rcode"))
    flags = _header_flags(d)
    if flags:
        event["dns.header_flags"] = flags
    answers = _answers(d)
    if answers:
        event["dns.answers"] = answers
        resolved = [
            a["data"]
            for a in answers
            if a.get("type") in ADDRESS_TYPES and fits(ADDRESS, a.get("data"))
        ]
        if resolved:
            event["dns.resolved_ip"] = resolved


def _header_flags(d: dict[str, Any]) -> list[str]:
    """ECS ``dns.header_flags`` from Suricata's hex ``flags``, else from its booleans."""
    hexa = d.get("flags")
    if type(hexa) is str and 0 < len(hexa) <= 4:
        try:
            bits = int(hexa, 16)
        except ValueError:
            bits = -1
        if bits >= 0:
            found = [flag for bit, flag in FLAG_BITS if bits & bit]
            if bits & FLAG_BITS_CD[0]:
                found.append(FLAG_BITS_CD[1])
            return found
    return [flag for key, flag in FLAG_KEYS if d.get(key) is True]


def _answers(d: dict[str, Any]) -> list[dict[str, Any]]:
    """``dns.answers`` objects from an EVE DNS record in any of Suricata's layouts: the
    ``answers`` list (version 2), the one answer per record of the older layout (``rdata`` in
    the record itself), or only ``grouped`` data."""
    listed = d.get("answers")
    if isinstance(listed, list):
        return [_answer(a) for a in listed if isinstance(a, dict) and a]
    if d.get("type") == "answer" and "rdata" in d:
        return [_answer(d)]
    grouped = d.get("grouped")
    if isinstance(grouped, dict):
        return [
            {"type": rrtype, "data": str(data)}
            for rrtype, values in grouped.items()
            if isinstance(values, list)
            for data in values
            if isinstance(data, str | int) and not isinstance(data, bool)
        ]
    return []


def _answer(a: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    name, rrtype, ttl, data = a.get("rrname"), a.get("rrtype"), a.get("ttl"), a.get("rdata")
    if type(name) is str:
        answer["name"] = bare(name)
    if type(rrtype) is str:
        answer["type"] = rrtype
    if type(ttl) is int:
        answer["ttl"] = ttl
    if type(data) is str:
        answer["data"] = bare(data) if rrtype in ("CNAME", "NS", "PTR", "MX") else data
    elif data is not None and not isinstance(data, dict | list):
        answer["data"] = str(data)
    return answer


def _is_ip(value: object) -> bool:
    if type(value) is not str:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


HTTP_FIELDS = kinded(
    (
        ("http.request.method", "http_method"),
        ("http.response.status_code", "status"),
        ("http.response.body.bytes", "length"),
        ("user_agent.original", "http_user_agent"),
        ("http.request.referrer", "http_refer"),
        ("http.response.mime_type", "http_content_type"),
    )
)
DN_KEYS = {
    "CN": "common_name",
    "C": "country",
    "O": "organization",
    "OU": "organizational_unit",
    "L": "locality",
    "ST": "state_or_province",
}


def _http(h: dict[str, Any], event: Event) -> None:
    host = h.get("hostname")
    if type(host) is str and host:
        event["url.domain"] = event["destination.domain"] = bare(host)
    else:
        put(event, "suricata.eve.http.hostname", host)  # it moves only to where it fits
    url = h.get("url")
    if isinstance(url, str):
        event["url.original"] = url
        parts = urlsplit(url)
        event["url.path"] = parts.path or "/"
        put(event, "url.query", parts.query)
        put(event, "url.fragment", parts.fragment)
    else:
        put(event, "suricata.eve.http.url", url)
    status = h.get("status")
    if isinstance(status, int) and not isinstance(status, bool):
        event["event.outcome"] = "success" if status < 400 else "failure"
    put_all(event, h, HTTP_FIELDS, "suricata.eve.http.")
    if isinstance(h.get("protocol"), str):
        event["http.version"] = h["protocol"].partition("/")[2]


def _tls(t: dict[str, Any], event: Event) -> None:
    version = t.get("version")
    if isinstance(version, str) and " " in version:
        proto, _, number = version.partition(" ")
        event["tls.version_protocol"], event["tls.version"] = proto.lower(), number
    sni = t.get("sni")
    if type(sni) is str and sni:
        event["tls.client.server_name"] = event["destination.domain"] = bare(sni)
    if type(t.get("session_resumed")) is bool:
        event["tls.resumed"] = t["session_resumed"]
    for key, side in (("subject", "subject"), ("issuerdn", "issuer")):
        dn = t.get(key)
        if type(dn) is str and dn:
            event[f"tls.server.{side}"] = dn
            _distinguished_name(dn, f"tls.server.x509.{side}.", event)
    serial = t.get("serial")
    if type(serial) is str and serial:
        event["tls.server.x509.serial_number"] = serial.replace(":", "").upper()
    for key, name in (("notbefore", "not_before"), ("notafter", "not_after")):
        when = _cert_time(t.get(key))
        if when is not None:
            event[f"tls.server.{name}"] = event[f"tls.server.x509.{name}"] = when
    if isinstance(t.get("fingerprint"), str):
        event["tls.server.hash.sha1"] = t["fingerprint"].replace(":", "").upper()
    for side, key in (("client", "ja3"), ("server", "ja3s")):
        ja = t.get(key)
        if isinstance(ja, dict):
            put(event, f"tls.{side}.{key}", ja.get("hash"))
    ja4 = t.get("ja4")  # Suricata 7.0.6+ with ja4-fingerprints enabled; ECS has no JA4 field
    if type(ja4) is str and ja4:
        event["citysoc.tls.client.ja4"] = ja4


def _distinguished_name(dn: str, prefix: str, event: Event) -> None:
    """The ECS x509 fields of a distinguished name as Suricata writes it (``C=VN, O=A, CN=B``)."""
    event[prefix + "distinguished_name"] = dn
    for part in _rdns(dn):
        key, sep, value = part.partition("=")
        name = DN_KEYS.get(key.strip().upper())
        if name is not None and sep and value.strip():
            field = prefix + name
            values = event.get(field)
            if isinstance(values, list):
                values.append(value.strip())
            else:
                event[field] = [value.strip()]


def _rdns(dn: str) -> list[str]:
    """The comma-separated parts of a distinguished name (a backslash escapes a comma)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in dn:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _cert_time(value: object) -> str | None:
    """A certificate's validity time (Suricata writes UTC without a zone) as an ECS date."""
    if type(value) is not str or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return ecs.timestamp(moment.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def _fileinfo(f: dict[str, Any], event: Event) -> None:
    name = f.get("filename")
    put(event, "file.path", name, "suricata.eve.fileinfo.filename")
    put(event, "file.name", name.rsplit("/", 1)[-1] if isinstance(name, str) else None)
    put(event, "file.size", f.get("size"), "suricata.eve.fileinfo.size")
    for algo in ("md5", "sha1", "sha256"):
        put(event, f"file.hash.{algo}", f.get(algo))
    put(event, "file.mime_type", f.get("mimetype"))


def _anomaly(a: dict[str, Any], event: Event) -> None:
    put(event, "message", a.get("event") or a.get("type"))


MAPPERS: dict[str, Callable[[dict[str, Any], Event], None]] = {
    "alert": _alert,
    "flow": _flow,
    "dns": _dns,
    "http": _http,
    "tls": _tls,
    "fileinfo": _fileinfo,
    "anomaly": _anomaly,
}


def read_time(value: object) -> float | None:
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


def read_stamp(value: object) -> tuple[float, str] | None:
    """Epoch seconds and ECS timestamp of an EVE time, or ``None`` as :func:`read_time`."""
    if type(value) is str and len(value) == 31 and value[19] == "." and value.endswith("+0000"):
        fast = _utc_epoch(value)  # Suricata's usual form: the hot path
        if fast is not None:
            return fast, ecs_stamp(value, fast)
    epoch = read_time(value)
    if epoch is None:
        return None
    return epoch, ecs_stamp(value, epoch)  # type: ignore[arg-type]  # a str: it was read


def ecs_stamp(value: str, epoch: float) -> str:
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
_SECONDS_OF: dict[str, int | None] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch seconds, or None
_MAX_SECONDS_CACHED = 4096
_UNSEEN = -1


def _utc_epoch(value: str) -> float | None:
    """Suricata's usual ``YYYY-MM-DDTHH:MM:SS.ffffff+0000`` without datetime (hot path).

    The seconds part is memoised: a flow's timestamp, start and end share few seconds.
    """
    head = value[:19]
    seconds = _SECONDS_OF.get(head, _UNSEEN)
    if seconds == _UNSEEN:
        seconds = _utc_seconds(head)
        if len(_SECONDS_OF) >= _MAX_SECONDS_CACHED:
            _SECONDS_OF.clear()
        _SECONDS_OF[head] = seconds
    try:
        micro = int(value[20:26])
    except ValueError:
        return None
    if seconds is None:
        return None
    return seconds + micro / 1e6


def _utc_seconds(value: str) -> int | None:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS`` in UTC, or ``None`` when anything is unusual."""
    try:
        year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
        hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
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
    return days * 86400 + hour * 3600 + minute * 60 + second
