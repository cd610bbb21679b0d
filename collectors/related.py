"""ECS ``related.*``: every address, host name, hash and user an event names, for pivoting.

Collectors call :func:`add_related` once an event's own fields are set; values already in a
``related.*`` field are kept, each value appears once, in the order first seen.
"""

from __future__ import annotations

from typing import Any

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "related.ip",
        ("related.ip", "source.ip", "destination.ip", "client.ip", "server.ip", "dns.resolved_ip"),
    ),
    (
        "related.hosts",
        (
            "related.hosts",
            "host.hostname",
            "host.name",
            "source.domain",
            "destination.domain",
            "url.domain",
            "dns.question.name",
            "tls.client.server_name",
        ),
    ),
    (
        "related.hash",
        (
            "related.hash",
            "file.hash.md5",
            "file.hash.sha1",
            "file.hash.sha256",
            "tls.server.hash.md5",
            "tls.server.hash.sha1",
            "tls.server.hash.sha256",
            "tls.client.ja3",
            "tls.server.ja3s",
        ),
    ),
    ("related.user", ("related.user", "user.name", "source.user.name", "destination.user.name")),
)


# Where a Suricata EVE event can hold them (fewer look-ups on the EVE hot path).
EVE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("related.ip", ("source.ip", "destination.ip", "dns.resolved_ip")),
    (
        "related.hosts",
        ("destination.domain", "url.domain", "dns.question.name", "tls.client.server_name"),
    ),
    (
        "related.hash",
        (
            "file.hash.md5",
            "file.hash.sha1",
            "file.hash.sha256",
            "tls.server.hash.sha1",
            "tls.client.ja3",
            "tls.server.ja3s",
        ),
    ),
)


def add_related(
    event: dict[str, Any], groups: tuple[tuple[str, tuple[str, ...]], ...] = GROUPS
) -> None:
    """Set the ``related.*`` fields of ``event`` from its other fields (in place)."""
    for target, names in groups:
        values: list[str] = []
        for name in names:
            value = event.get(name)
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if type(item) is str and item and item not in values:
                        values.append(item)
            elif type(value) is str and value and value not in values:
                values.append(value)
        if values:
            event[target] = values
