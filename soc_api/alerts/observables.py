"""Observables of an alert (``ip:…``, ``domain:…``, ``hash:…``, ``user:…``, ``url:…``).

Taken from the fields that identify the alert (the rule's entity or its correlation group):
they are what incidents join alerts on, and what IOC sweeps match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_OBSERVABLES = 20


def kind_of(field: str) -> str | None:
    name = field.lower()
    if name.endswith(".ip") or name in ("ip", "related.ip"):
        return "ip"
    if "hash" in name:
        return "hash"
    if name.endswith(("user.name", ".user", "related.user")):
        return "user"
    if name in ("url.full", "url.original"):
        return "url"
    if name.endswith((".domain", "dns.question.name", "registered_domain")):
        return "domain"
    return None


def observables_of(group: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for field, value in group.items():
        kind = kind_of(field)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if kind and item not in (None, ""):
                found.append(f"{kind}:{str(item).lower() if kind != 'hash' else item}")
    return list(dict.fromkeys(found))[:MAX_OBSERVABLES]
