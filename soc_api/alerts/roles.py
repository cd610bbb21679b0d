"""Entity roles of an alert: its attacker, its targets, the infrastructure that only relayed it.

A rule names the field of its attacker and of its victim (rule attributes ``attacker`` and
``victim``, by default ``source.ip`` and ``destination.ip``; a camera calling out to the
internet names the outside address as the attacker and the camera as the victim). Hosts the
topology gives an infrastructure role (resolvers, VMS, collectors, sensors, routers,
firewalls, NAT) are never an alert's attacker: an alert whose only actor is such a host has no
attacker, and incidents never join alerts through it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from citysoc.core.ecs import Event
from detections.engine.catalog import TACTICS
from detections.engine.compiler import CompiledRule
from soc_api.alerts.observables import kind_of

INFRASTRUCTURE_ROLES = frozenset(
    {"resolver", "vms", "collector", "sensor", "router", "firewall", "nat", "event-store"}
)
FINGERPRINT_FIELDS = {
    "tls.client.ja3": "ja3",
    "tls.client.ja4": "ja4",
    "citysoc.tls.client.ja4": "ja4",  # where the packet decoder and the EVE mapping write it
    "user_agent.original": "ua",
}
# Where a rule's victim field is empty (a host's own log), the host that logged is the victim.
HOST_FIELDS = ("host.ip", "host.hostname")
MAX_TARGETS = 1000


@dataclass(frozen=True)
class Roles:
    attacker: str | None
    targets: tuple[str, ...]
    infrastructure: tuple[str, ...]
    fingerprints: tuple[str, ...]
    tactic: str


def entity(field: str, value: Any) -> str | None:
    """``ip:198.51.100.23``, ``user:root``, ``host:cam-q1-0011``: an entity as incidents name it."""
    if value in (None, ""):
        return None
    kind = kind_of(field) or ("host" if field.endswith(("hostname", "host.name")) else None)
    if kind is None:
        return None
    return f"{kind}:{str(value).lower() if kind != 'hash' else value}"


def tactic_of(rule_name: str) -> str:
    """The ATT&CK tactic a rule folder is named after (``credential_access_…``)."""
    return next((t for t in sorted(TACTICS, key=len, reverse=True) if rule_name.startswith(t)), "")


def _infrastructure(events: Sequence[Event]) -> set[str]:
    found: set[str] = set()
    for event in events:
        for side in ("source", "destination"):
            if event.get(f"citysoc.{side}.role") in INFRASTRUCTURE_ROLES:
                name = entity(f"{side}.ip", event.get(f"{side}.ip"))
                if name:
                    found.add(name)
    return found


def _each(value: Any) -> list[Any]:
    """A field's values: an ECS array (``host.ip``) holds several, anything else one."""
    return list(value) if isinstance(value, list | tuple) else [value]


def _values(field: str, group: Mapping[str, Any], events: Sequence[Event]) -> list[str]:
    if group.get(field) not in (None, ""):
        raw: list[Any] = _each(group[field])
    else:
        raw = [v for e in events for v in _each(e.get(field))]
    named = (entity(field, v) for v in raw)
    return [n for n in dict.fromkeys(named) if n is not None]


def _attacker(rule: CompiledRule, group: Mapping[str, Any], events: Sequence[Event]) -> str | None:
    if group.get(rule.attacker) not in (None, ""):
        return next(iter(_values(rule.attacker, group, events)), None)
    counts = Counter(entity(rule.attacker, v) for e in events for v in _each(e.get(rule.attacker)))
    counts.pop(None, None)
    return counts.most_common(1)[0][0] if counts else None


def roles_of(rule: CompiledRule, group: Mapping[str, Any], events: Sequence[Event]) -> Roles:
    infrastructure = _infrastructure(events)
    attacker = _attacker(rule, group, events)
    if attacker in infrastructure:
        attacker = None
    targets = [t for t in _values(rule.victim, group, events) if t != attacker]
    for field in HOST_FIELDS:
        if targets:
            break
        targets = [t for t in _values(field, group, events) if t != attacker]
    fingerprints: dict[str, None] = {}
    for event in events:
        for field, kind in FINGERPRINT_FIELDS.items():
            value = event.get(field)
            if value not in (None, ""):
                fingerprints[f"{kind}:{value}"] = None
    return Roles(
        attacker=attacker,
        targets=tuple(targets[:MAX_TARGETS]),
        infrastructure=tuple(sorted(infrastructure)),
        fingerprints=tuple(fingerprints),
        tactic=tactic_of(rule.name),
    )
