"""Resolvers' query logs over syslog: who asked for which name.

A resolver forwards its clients' queries under its own address; its query log is where the
client address is kept, so that an alert seen at the resolver can be attributed to the host
that asked (``soc_api/alerts/resolvers.py``). Three common formats:

* **BIND 9** (``named``, ``querylog yes``)::

      client @0x7f3a2c0a1b20 10.10.1.5#41234 (a.example): query: a.example IN A +E(0)K (10.50.0.53)

  (older versions write no ``@0x…``; a ``queries: info:`` category prefix may precede it);
* **Unbound** (``log-queries: yes``): ``[1234:0] info: 10.10.1.5 a.example. A IN``;
* **dnsmasq** (``log-queries``): ``query[A] a.example from 10.10.1.5``.

Each becomes a ``dns_query`` event (``bind.query``, ``unbound.query``, ``dnsmasq.query``) with
``source.ip``/``port`` the client, ``destination.ip`` the address the resolver received it on
where the line gives it, and ``dns.question.name``/``type``/``class``.
"""

from __future__ import annotations

import ipaddress
import re

from citysoc.core.ecs import Event

BIND = re.compile(
    r"client (?:@0x[0-9a-f]+ )?(?P<ip>[0-9a-fA-F:.]+)#(?P<port>\d+)(?: \([^)]*\))?: "
    r"(?:view [^:]+: )?query: (?P<name>\S+) (?P<cls>[A-Z0-9]+) (?P<type>[A-Z0-9]+)"
    r"(?: \S+)?(?: \((?P<server>[0-9a-fA-F:.]+)\))?"
)
UNBOUND = re.compile(
    r"info: (?P<ip>[0-9a-fA-F:.]+) (?P<name>\S+) (?P<type>[A-Z0-9]+) (?P<cls>[A-Z0-9]+)\s*$"
)
DNSMASQ = re.compile(r"query\[(?P<type>[A-Z0-9]+)\] (?P<name>\S+) from (?P<ip>[0-9a-fA-F:.]+)")
PROGRAMS = {"named": "bind", "unbound": "unbound", "dnsmasq": "dnsmasq"}


def _address(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text)) if text else None
    except ValueError:
        return None


def parse_query(program: str, body: str, event: Event) -> bool:
    """A resolver's query log line into ``event``; False when it is not one."""
    kind = PROGRAMS.get(program)
    if kind is None:
        return False
    pattern = {"bind": BIND, "unbound": UNBOUND, "dnsmasq": DNSMASQ}[kind]
    m = pattern.search(body)
    client = _address(m.group("ip")) if m else None
    if m is None or client is None:
        return False
    groups = m.groupdict()
    event.update(
        {
            "event.module": kind,
            "event.dataset": f"{kind}.query",
            "event.category": ["network"],
            "event.type": ["protocol"],
            "event.action": "dns_query",
            "network.protocol": "dns",
            "dns.type": "query",
            "dns.question.name": m.group("name").rstrip(".").lower(),
            "dns.question.type": m.group("type"),
            "source.ip": client,
        }
    )
    if groups.get("cls"):
        event["dns.question.class"] = groups["cls"]
    if groups.get("port"):
        event["source.port"] = int(groups["port"])
    server = _address(groups.get("server"))
    if server:
        event["destination.ip"] = server
    return True
