"""Bind a query's syntax tree to the fields one view may search.

A :class:`Schema` is a whitelist: the field names a view accepts (with aliases), the kind of
each (:class:`~citysoc.core.query.tree.Kind`) and the fields a bare value searches. Binding
checks every value against its field's kind (an address or a network for an address field, a
number, a time) and raises :class:`~citysoc.core.errors.QueryError` at the term's column
otherwise, so the compilers only ever see conditions they can translate.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from citysoc.core.ecs_reference import INTEGERS, NUMBERS, STRINGS, reference
from citysoc.core.errors import QueryError
from citysoc.core.query.syntax import error, parse
from citysoc.core.query.tree import (
    AllOf,
    AnyOf,
    Between,
    Both,
    Condition,
    Contains,
    Either,
    Equals,
    Exists,
    Field,
    InNetwork,
    Kind,
    Negation,
    Node,
    Not,
    Span,
    Term,
    Wildcard,
)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_VALUE = 1024  # characters of one value


@dataclass(frozen=True)
class Schema:
    """The fields of one view: names (lowercase keys), aliases and what a bare value searches."""

    name: str
    fields: Mapping[str, Field]
    bare: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def field(self, name: str, column: int) -> Field:
        key = name.lower()
        key = self.aliases.get(key, key)
        found = self.fields.get(key)
        if found is None:
            names = list(self.fields) + list(self.aliases)
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
            if close:
                raise error(
                    "unknown_field_like", column, field=repr(name), view=self.name,
                    close=", ".join(close),
                )  # fmt: skip
            raise error("unknown_field", column, field=repr(name), view=self.name)
        return found

    def bind(self, node: Node) -> Condition:
        """The condition ``node`` means on this schema's fields."""
        if isinstance(node, Both):
            return AllOf(tuple(self.bind(part) for part in node.parts))
        if isinstance(node, Either):
            return AnyOf(tuple(self.bind(part) for part in node.parts))
        if isinstance(node, Negation):
            return Not(self.bind(node.part))
        values = (node.low, node.high) if isinstance(node, Span) else (node.value,)
        if any(len(value or "") > MAX_VALUE for value in values):
            raise error("value_too_long", node.column, limit=MAX_VALUE)
        if isinstance(node, Span):
            return _span(self.field(node.field, node.column), node)
        if node.field is None:
            return self._bare(node)
        return _term(self.field(node.field, node.column), node)

    def _bare(self, node: Term) -> Condition:
        """A bare value: any of the main fields that can hold it (an address: the address,
        entity and text fields only)."""
        skip = {Kind.NUMBER, Kind.DATE, Kind.BOOLEAN}
        if _is_address(node.value):
            skip.add(Kind.KEYWORD)
        parts = []
        for name in self.bare:
            spec = self.fields[name]
            if spec.kind in skip:
                continue
            try:
                parts.append(_term(spec, node))
            except QueryError:
                continue  # a value this field cannot hold (a word on an address field)
        return AnyOf(tuple(parts))


def compile_query(text: str | None, schema: Schema) -> Condition | None:
    """Parse and bind ``text``: ``None`` for an empty query."""
    node = parse(text or "")
    return None if node is None else schema.bind(node)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _wild(value: str, quoted: bool) -> bool:
    return not quoted and ("*" in value or "?" in value)


def _term(spec: Field, node: Term) -> Condition:
    value = node.value
    if value == "*" and not node.quoted:
        return Exists(spec)
    kind = spec.kind
    if kind is Kind.ENTITY and not node.quoted:
        address = value[3:] if value.lower().startswith("ip:") else value
        if "/" in address and _is_address(address):
            return InNetwork(spec, ipaddress.ip_network(address, strict=False))
    if kind in (Kind.KEYWORD, Kind.ENTITY):
        if _wild(value, node.quoted):
            return Wildcard(spec, value.lower())
        return Equals(spec, value.lower() if kind is Kind.ENTITY else value)
    if kind is Kind.TEXT:
        if _wild(value, node.quoted):
            return Wildcard(spec, f"*{value.strip('*').lower()}*" if value.strip("*") else "*")
        return Contains(spec, value)
    if kind is Kind.IP:
        return _address(spec, value, node.column)
    if kind is Kind.NUMBER:
        return Equals(spec, _number(spec, value, node.column))
    if kind is Kind.DATE:
        low, high = _time(spec, value, node.column, end=False), None
        if _DAY.match(value):
            high = _next_day(value)
            return Between(spec, low, high, True, False)
        return Between(spec, low, low)
    if value.lower() not in ("true", "false"):
        raise error("not_boolean", node.column, field=spec.name, value=repr(value))
    return Equals(spec, value.lower() == "true")


def _address(spec: Field, value: str, column: int) -> Condition:
    try:
        if "/" in value:
            return InNetwork(spec, ipaddress.ip_network(value, strict=False))
        return Equals(spec, str(ipaddress.ip_address(value)))
    except ValueError:
        raise error("not_address", column, field=spec.name, value=repr(value)) from None


def _number(spec: Field, value: str, column: int) -> int | float:
    if not _NUMBER.match(value):
        raise error("not_number", column, field=spec.name, value=repr(value))
    number = float(value)
    if not math.isfinite(number) or abs(number) > 2**63:
        raise error("out_of_range", column, field=spec.name, value=repr(value))
    return (
        int(number)
        if number.is_integer() and "." not in value and "e" not in value.lower()
        else number
    )


def _time(spec: Field, value: str, column: int, *, end: bool) -> str:
    """Canonical UTC text (``2026-11-20T00:00:00.000Z``) of a day or an ISO 8601 time."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise error("not_time", column, field=spec.name, value=repr(value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if end and _DAY.match(value):
        moment += timedelta(days=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _next_day(value: str) -> str:
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC) + timedelta(days=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _span(spec: Field, node: Span) -> Condition:
    if spec.kind is Kind.NUMBER:
        low = None if node.low is None else _number(spec, node.low, node.column)
        high = None if node.high is None else _number(spec, node.high, node.column)
        return Between(spec, low, high, node.include_low, node.include_high)
    if spec.kind is Kind.DATE:
        start = None if node.low is None else _time(spec, node.low, node.column, end=False)
        include_low = node.include_low
        if node.low is not None and not include_low and _DAY.match(node.low):
            start, include_low = _next_day(node.low), True  # after that day: from the next one
        end = None if node.high is None else _time(spec, node.high, node.column, end=False)
        include_high = node.include_high
        if node.high is not None and include_high and _DAY.match(node.high):
            end, include_high = _next_day(node.high), False  # up to that day: all of it
        return Between(spec, start, end, include_low, include_high)
    raise error("no_ranges", node.column, field=spec.name)


# -- the event store's schema: the ECS reference --------------------------------------------

EVENT_BARE = (
    "source.ip",
    "destination.ip",
    "related.ip",
    "host.name",
    "host.hostname",
    "related.hosts",
    "user.name",
    "related.user",
    "destination.domain",
    "url.domain",
    "dns.question.name",
    "tls.client.server_name",
    "file.hash.sha256",
    "file.hash.md5",
    "related.hash",
    "rule.name",
    "event.action",
    "message",
)


def _kind(ecs_type: str) -> Kind | None:
    if ecs_type in ("match_only_text", "text"):
        return Kind.TEXT
    if ecs_type in STRINGS:
        return Kind.KEYWORD
    if ecs_type in INTEGERS or ecs_type in NUMBERS:
        return Kind.NUMBER
    if ecs_type == "ip":
        return Kind.IP
    if ecs_type == "date":
        return Kind.DATE
    if ecs_type == "boolean":
        return Kind.BOOLEAN
    return None  # objects are not searched as such: their fields are


@cache
def event_schema() -> Schema:
    """Every searchable field of the ECS reference (``ecs_fields.yml``)."""
    fields: dict[str, Field] = {}
    for name, spec in reference().fields.items():
        kind = _kind(spec.type)
        if kind is not None:
            fields[name.lower()] = Field(
                name, kind, spec.array or reference().array_of(name) is not None
            )
    bare = tuple(name for name in EVENT_BARE if name in fields)
    return Schema("events", fields, bare, {"agency": "organization.id"})


def make_schema(
    name: str,
    fields: Iterable[Field],
    *,
    bare: Iterable[str],
    aliases: Mapping[str, str] | None = None,
) -> Schema:
    by_name = {f.name.lower(): f for f in fields}
    return Schema(name, by_name, tuple(b.lower() for b in bare), dict(aliases or {}))
