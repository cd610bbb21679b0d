"""The ECS field reference citysoc holds itself to (``ecs_fields.yml``), and checks against it.

:func:`reference` loads the file once: each field's ECS type and whether it is an array,
the allowed values of the categorization fields, and the namespaces where names outside ECS
may live. :func:`problems` says what is wrong with one flat event: an unknown name outside
those namespaces, a value of the wrong type, a categorization value ECS does not allow, or an
``event.type`` that fits none of the event's categories.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from citysoc.core.errors import ConfigError

REFERENCE_PATH = Path(__file__).with_name("ecs_fields.yml")

STRINGS = frozenset({"keyword", "wildcard", "match_only_text", "text", "constant_keyword"})
INTEGERS = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
NUMBERS = frozenset({"float", "double", "scaled_float", "half_float"})
KNOWN_TYPES = STRINGS | INTEGERS | NUMBERS | {"boolean", "ip", "date", "object", "flattened"}


@dataclass(frozen=True)
class FieldSpec:
    """One ECS field: its type and whether ECS defines it as an array."""

    name: str
    type: str
    array: bool


@dataclass(frozen=True)
class Reference:
    version: str
    fields: Mapping[str, FieldSpec]
    namespaces: Mapping[str, str]  # prefix -> why names under it are allowed
    allowed: Mapping[str, frozenset[str]]  # field -> its allowed values
    expected_types: Mapping[str, frozenset[str]]  # event.category value -> event.type values

    def spec(self, name: str) -> FieldSpec | None:
        return self.fields.get(name)

    def declared(self, name: str) -> bool:
        """Whether ``name`` lies under a declared namespace (``suricata.eve.x``: ``suricata``)."""
        return name.partition(".")[0] in self.namespaces

    def array_of(self, name: str) -> tuple[str, str] | None:
        """Where an array holds ``name``'s values: ``(array field, path inside each element)``.

        ``("event.category", "")`` for an array of values; ``("dns.answers", "data")`` for
        ``dns.answers.data``, a field of an array of objects; ``None`` for a single value.
        """
        spec = self.fields.get(name)
        if spec is not None and spec.array and spec.type != "object":
            return name, ""
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            parent = self.fields.get(".".join(parts[:cut]))
            if parent is not None and parent.array and parent.type == "object":
                return parent.name, ".".join(parts[cut:])
        return None

    def typed(self, kind: str) -> frozenset[str]:
        """The names of the fields of one ECS type (``boolean``, ``ip``, ...)."""
        return frozenset(name for name, spec in self.fields.items() if spec.type == kind)


@cache
def reference(path: Path = REFERENCE_PATH) -> Reference:
    """The reference in ``path`` (read once per process)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the ECS field reference {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'fields'")
    fields: dict[str, FieldSpec] = {}
    for name, declared in raw["fields"].items():
        text = str(declared)
        kind, array = text.removesuffix("[]"), text.endswith("[]")
        if kind not in KNOWN_TYPES:
            raise ConfigError(f"{path}: field {name}: unknown type {text!r}")
        fields[str(name)] = FieldSpec(str(name), kind, array)
    allowed_raw = raw.get("allowed") or {}
    categories = allowed_raw.get("event.category") or {}
    allowed = {
        str(k): frozenset(map(str, v)) for k, v in allowed_raw.items() if isinstance(v, list)
    }
    allowed["event.category"] = frozenset(map(str, categories))
    expected = {str(k): frozenset(map(str, v)) for k, v in categories.items()}
    return Reference(
        version=str(raw.get("ecs_version", "")),
        fields=fields,
        namespaces={str(k): str(v) for k, v in (raw.get("namespaces") or {}).items()},
        allowed=allowed,
        expected_types=expected,
    )


def problems(event: Mapping[str, Any], ref: Reference | None = None) -> list[str]:
    """What does not conform to the reference in one flat event (empty when all does)."""
    ref = ref or reference()
    found: list[str] = []
    for name, value in event.items():
        spec = ref.spec(name)
        if spec is None:
            if not ref.declared(name):
                found.append(f"{name}: not an ECS field, and under no declared namespace")
            continue
        found.extend(_value_problems(spec, value))
        allowed = ref.allowed.get(name)
        if allowed is not None:
            bad = [v for v in _values(value) if v not in allowed]
            if bad:
                found.append(f"{name}: {bad!r} not among the values ECS allows")
    found.extend(_category_problems(event, ref))
    return found


def _values(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _value_problems(spec: FieldSpec, value: object) -> list[str]:
    if isinstance(value, list) and not spec.array:
        return [f"{spec.name}: an array, but ECS defines one {spec.type}"]
    bad = [v for v in _values(value) if not _fits(spec.type, v)]
    if bad:
        return [f"{spec.name}: {bad[0]!r} is not a valid {spec.type}"]
    return []


def _fits(kind: str, value: object) -> bool:
    if kind in STRINGS:
        return isinstance(value, str)
    if kind in INTEGERS:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in NUMBERS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("object", "flattened"):
        return isinstance(value, dict)
    if kind == "ip":
        try:
            ipaddress.ip_address(value if isinstance(value, str) else "")
        except ValueError:
            return False
        return True
    if kind == "date":
        return isinstance(value, str) and _is_date(value)
    return False


def _is_date(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None


def _category_problems(event: Mapping[str, Any], ref: Reference) -> list[str]:
    categories = [c for c in _values(event.get("event.category")) if c in ref.expected_types]
    types = [t for t in _values(event.get("event.type")) if t is not None]
    if not categories or not types:
        return []
    expected = frozenset().union(*(ref.expected_types[c] for c in categories))
    odd = [t for t in types if t not in expected]
    if odd:
        return [f"event.type {odd!r} fits none of the categories {categories!r}"]
    return []
