"""WS-Discovery (UDP 3702), the way ONVIF cameras and video management systems find each other.

One event per SOAP message: ``Probe`` (who asks, for which device types), ``ProbeMatches``
(which device answers, with its types, scopes and service addresses ``XAddrs``), ``Hello``,
``Bye``, ``Resolve`` and ``ResolveMatches``. The XML is read with bounded regular expressions
on local element names (no entity expansion, no DTDs: a hostile datagram costs nothing).
"""

from __future__ import annotations

import re

from citysoc.core.ecs import Event

PORT = 3702
MAX_MESSAGE = 64 * 1024
ACTION = re.compile(rb"<(?:\w+:)?Action\b[^>]{0,200}>\s*([^<\s]{1,300})\s*<", re.IGNORECASE)
BODY_ELEMENT = re.compile(rb"<(?:\w+:)?Body\b[^>]{0,200}>\s*<(?:\w+:)?(\w{1,40})", re.IGNORECASE)
KNOWN = ("Probe", "ProbeMatches", "Hello", "Bye", "Resolve", "ResolveMatches")
LISTS = {
    "types": "Types",
    "scopes": "Scopes",
    "xaddrs": "XAddrs",
}
SINGLE = {
    "message_id": "MessageID",
    "relates_to": "RelatesTo",
    "address": "Address",
}


def _element(name: str) -> re.Pattern[bytes]:
    return re.compile(
        rb"<(?:\w+:)?" + name.encode() + rb"\b[^>]{0,200}>([^<]{0,4000})<", re.IGNORECASE
    )


PATTERNS = {field: _element(tag) for field, tag in {**LISTS, **SINGLE}.items()}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def wsdiscovery_fields(payload: bytes) -> Event:
    """ECS-style fields of one WS-Discovery message; ``ValueError`` if it is not one."""
    if len(payload) > MAX_MESSAGE or b"Envelope" not in payload[:2048]:
        raise ValueError("not a SOAP envelope")
    body = BODY_ELEMENT.search(payload)
    action_match = ACTION.search(payload)
    message = body.group(1).decode("ascii", "replace") if body else ""
    if message not in KNOWN and action_match:
        tail = action_match.group(1).rsplit(b"/", 1)[-1].decode("ascii", "replace")
        message = tail if tail in KNOWN else message
    if message not in KNOWN:
        raise ValueError(f"not a WS-Discovery message ({message or 'no body'})")
    fields: Event = {
        "event.category": "network",
        "event.type": "protocol" if message in ("Probe", "Resolve") else "info",
        "event.action": "wsdiscovery_" + _snake(message),
        "network.protocol": "ws-discovery",
        "wsdiscovery.message": message,
    }
    if action_match:
        fields["wsdiscovery.action"] = action_match.group(1).decode("utf-8", "replace")
    for name, pattern in PATTERNS.items():
        values = [m.decode("utf-8", "replace").strip() for m in pattern.findall(payload)]
        values = [v for v in values if v]
        if not values:
            continue
        if name in LISTS:
            words = sorted({w for value in values for w in value.split()})
            fields[f"wsdiscovery.{name}"] = " ".join(words)
        else:
            fields[f"wsdiscovery.{name}"] = values[0]
    if message in ("ProbeMatches", "ResolveMatches", "Hello", "Bye"):
        fields["wsdiscovery.match_count"] = max(1, len(PATTERNS["address"].findall(payload)))
    return fields
