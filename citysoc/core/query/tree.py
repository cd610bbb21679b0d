"""What a query says, before and after its fields are known.

:mod:`~citysoc.core.query.syntax` reads the text into the syntax tree (:data:`Node`): terms,
ranges and their combinations, each remembering its column for error messages.
:mod:`~citysoc.core.query.schema` binds that tree to the fields one view may search,
giving a :data:`Condition`: typed, checked, and what the compilers (SQL for the SOC state,
SQLite and the engine's query DSL for the event store) translate.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

# -- syntax -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """``field:value``, or a bare ``value`` (``field`` is ``None``) searching the main fields."""

    field: str | None
    value: str
    quoted: bool
    column: int


@dataclass(frozen=True)
class Span:
    """``field:[low TO high]`` (``{}`` excludes the bound), ``field:>=low`` and the like;
    ``None`` is an open end."""

    field: str
    low: str | None
    high: str | None
    include_low: bool
    include_high: bool
    column: int


@dataclass(frozen=True)
class Both:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Either:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    part: Node
    column: int


Node = Term | Span | Both | Either | Negation


# -- bound conditions -------------------------------------------------------------------------


class Kind(StrEnum):
    """How a field's values are searched."""

    KEYWORD = "keyword"  # whole value, any case; wildcards
    TEXT = "text"  # words within the value, any case
    IP = "ip"  # an address or a network (CIDR)
    NUMBER = "number"
    DATE = "date"  # ISO 8601; a day alone means the whole day (UTC)
    BOOLEAN = "boolean"
    ENTITY = "entity"  # ``ip:203.0.113.77``: an alert's entity; the value alone matches too


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    array: bool = False


Scalar = str | int | float | bool
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Equals:
    field: Field
    value: Scalar


@dataclass(frozen=True)
class OneOf:
    """The field holds one of ``values`` (pivots on a list of ids; not written by users)."""

    field: Field
    values: tuple[str, ...]


@dataclass(frozen=True)
class Wildcard:
    """``*`` any run of characters, ``?`` one character; any case."""

    field: Field
    pattern: str


@dataclass(frozen=True)
class Contains:
    field: Field
    text: str


@dataclass(frozen=True)
class InNetwork:
    field: Field
    network: Network


@dataclass(frozen=True)
class Between:
    """Numbers or times (canonical UTC ISO 8601 text); ``None`` is an open end."""

    field: Field
    low: int | float | str | None
    high: int | float | str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class Exists:
    field: Field


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = (
    Equals | OneOf | Wildcard | Contains | InNetwork | Between | Exists | AllOf | AnyOf | Not
)
NOTHING = AnyOf(())
"""A condition no record meets (an empty ``AnyOf``)."""


def fields_of(condition: Condition) -> set[str]:
    """The names of the fields a condition reads."""
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(fields_of(p) for p in condition.parts)) if condition.parts else set()
    if isinstance(condition, Not):
        return fields_of(condition.part)
    return {condition.field.name}
