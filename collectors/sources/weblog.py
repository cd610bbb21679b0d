"""Web server access logs sent over syslog (nginx, Apache): what a portal served, even over
HTTPS, where the wire shows only the server name and the flow.

The combined log format, as both servers write it by default::

    203.0.113.20 - - [02/Dec/2026:02:26:07 +0000] "GET /tra-cuu?q=1 HTTP/1.1" 200 15 "-" "curl/8.5"

becomes an ``http_request`` event (``nginx.access`` or ``apache.access``) with the same
``url.*``, ``http.*``, ``user_agent.original`` and ``source.ip`` fields the sensor gives a
request it saw in clear, so the web rules read both. A line of a web server that is not an
access line is left to the generic parser.
"""

from __future__ import annotations

import ipaddress
import re

from citysoc.core.ecs import Event
from collectors.packets.protocols import redact, url_fields

ACCESS = re.compile(
    r"^(?P<ip>[0-9A-Fa-f.:]+) \S+ (?P<user>\S+) \[[^\]]+\] "
    r'"(?P<method>[A-Z]{3,10}) (?P<target>\S+) HTTP/(?P<version>\d(?:\.\d)?)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)")?'
)
DATASETS = {"nginx": "nginx.access", "apache": "apache.access", "apache2": "apache.access",
            "httpd": "apache.access"}  # fmt: skip


def parse_access(program: str, body: str, event: Event) -> bool:
    """Fill ``event`` from an access line of a known web server; False if it is not one."""
    dataset = DATASETS.get(program.lower())
    m = ACCESS.match(body) if dataset else None
    if dataset is None or m is None:
        return False
    try:
        source = str(ipaddress.ip_address(m.group("ip")))
    except ValueError:
        return False
    status = int(m.group("status"))
    for field in ("message", "event.original"):  # a password in a URL is not kept, here either
        if isinstance(event.get(field), str):
            event[field] = redact(str(event[field]))
    event.update(url_fields(m.group("target"), None))
    event.update(
        {
            "event.module": dataset.partition(".")[0],
            "event.dataset": dataset,
            "event.category": ["web"],
            "event.type": ["access"],
            "event.action": "http_request",
            "event.outcome": "failure" if status >= 400 else "success",
            "network.protocol": "http",
            "source.ip": source,
            "http.request.method": m.group("method"),
            "http.version": m.group("version"),
            "http.response.status_code": status,
        }
    )
    if m.group("bytes") != "-":
        event["http.response.body.bytes"] = int(m.group("bytes"))
    if m.group("user") != "-":
        event["user.name"] = m.group("user")
    if m.group("referrer") not in (None, "", "-"):
        event["http.request.referrer"] = m.group("referrer")
    if m.group("agent") not in (None, "", "-"):
        event["user_agent.original"] = m.group("agent")
    return True
