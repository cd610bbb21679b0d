"""The query language on the embedded store: a condition as a WHERE clause with bound values.

Field names come from the ECS whitelist the condition was bound to and are quoted as columns;
every value is a bound parameter. A field the table has no column for yet matches nothing.
Array fields (``related.ip``, ``event.category``, ``dns.answers.data``) match when any element
does (:func:`eventstore.sqlite.elements_sql`). Addresses are tested against networks by the
function ``citysoc_in_network``, registered on the connection, so IPv4 and IPv6 alike are
compared as addresses, not as text. ``NOT`` keeps events that lack the field.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from citysoc.core.ecs_reference import reference
from citysoc.core.query.tree import (
    AllOf,
    AnyOf,
    Between,
    Condition,
    Contains,
    Equals,
    Exists,
    InNetwork,
    Kind,
    Not,
    OneOf,
    Wildcard,
)
from eventstore import addresses
from eventstore.base import MAX_OFFSET, AgencySeen
from eventstore.sqlite import ARRAY, TABLE, elements_sql, quote

Clause = tuple[str, list[Any]]
NETWORK_FUNCTION = "citysoc_in_network"


def like_pattern(pattern: str) -> str:
    """A ``*``/``?`` wildcard as a LIKE pattern escaped with ``\\``."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


@lru_cache(maxsize=256)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


@lru_cache(maxsize=65536)
def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def in_network(value: object, network: str) -> bool:
    """Whether a stored value is an address within ``network`` (text that is not an address
    is not)."""
    if not isinstance(value, str):
        return False
    address = _address(value)
    return address is not None and address in _network(network)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function(NETWORK_FUNCTION, 2, in_network, deterministic=True)


class Compiler:
    """Compiles conditions against one table's columns and the kinds of its fields."""

    def __init__(self, columns: Mapping[str, str], kinds: Mapping[str, str]) -> None:
        self.columns = columns  # lowercase name -> column name
        self.kinds = kinds

    def where(self, condition: Condition) -> Clause:
        if isinstance(condition, AllOf | AnyOf):
            if not condition.parts:
                return ("1" if isinstance(condition, AllOf) else "0"), []
            joiner = " AND " if isinstance(condition, AllOf) else " OR "
            parts = [self.where(part) for part in condition.parts]
            return "(" + joiner.join(sql for sql, _ in parts) + ")", [
                value for _, values in parts for value in values
            ]
        if isinstance(condition, Not):
            sql, values = self.where(condition.part)
            return f"NOT {sql}", values
        name = condition.field.name
        holder = reference().array_of(name)
        if holder is None and self.kinds.get(name) == ARRAY:
            holder = (name, "")
        column = self.columns.get((holder[0] if holder else name).lower())
        if column is None:
            return "0", []  # no event has ever had this field
        if holder is not None:
            values_from, element = elements_sql(quote(column), holder[1])
            sql, values = _test(condition, element)
            return f"EXISTS (SELECT 1 FROM {values_from} WHERE {sql})", values
        quoted = quote(column)
        sql, values = _test(condition, quoted)
        return f"({quoted} IS NOT NULL AND {sql})", values


def _test(condition: Condition, x: str) -> Clause:
    """The test of one leaf condition on the SQL expression ``x``."""
    if isinstance(condition, Equals):
        value = condition.value
        if condition.field.kind is Kind.NUMBER:
            return f"{x} IN (?, ?)", [value, str(value)]
        if condition.field.kind is Kind.BOOLEAN:
            return f"{x} IN (?, ?)", [int(bool(value)), str(bool(value)).lower()]
        return f"{x} = ?", [value]
    if isinstance(condition, Wildcard):
        return f"{x} LIKE ? ESCAPE '\\'", [like_pattern(condition.pattern)]
    if isinstance(condition, Contains):
        return f"{x} LIKE ? ESCAPE '\\'", [f"%{like_pattern(condition.text)}%"]
    if isinstance(condition, InNetwork):
        return f"{NETWORK_FUNCTION}({x}, ?)", [str(condition.network)]
    if isinstance(condition, OneOf):
        return f"{x} IN (SELECT value FROM json_each(?))", [json.dumps(list(condition.values))]
    if isinstance(condition, Exists):
        return "1", []
    assert isinstance(condition, Between)
    tests: list[str] = []
    values: list[Any] = []
    if condition.field.kind is Kind.NUMBER:
        tests.append(f"typeof({x}) IN ('integer', 'real')")
    if condition.low is not None:
        tests.append(f"{x} {'>=' if condition.include_low else '>'} ?")
        values.append(condition.low)
    if condition.high is not None:
        tests.append(f"{x} {'<=' if condition.include_high else '<'} ?")
        values.append(condition.high)
    return " AND ".join(tests) or "1", values


def _scope(
    condition: Condition | None, agencies: Sequence[str] | None, compiler: Compiler
) -> Clause:
    tests: list[str] = []
    values: list[Any] = []
    if condition is not None:
        sql, values = compiler.where(condition)
        tests.append(sql)
    if agencies is not None:
        tests.append('"organization.id" IN (SELECT value FROM json_each(?))')
        values = [*values, json.dumps(list(agencies))]
    return " AND ".join(tests) or "1", values


def _events(condition: Condition | None) -> Clause:
    """What a search reads: the events the address index gives for the condition's addresses
    (:mod:`eventstore.addresses`), or every event."""
    found = addresses.addresses(condition)
    if found is None:
        return TABLE, []
    return addresses.candidates_sql(TABLE), [json.dumps(found)]


def _indexed(condition: Condition | None, compiler: Compiler) -> tuple[str, int] | None:
    """The address and the bits of ``fields`` that answer the condition from the address
    index alone (:func:`eventstore.addresses.one_address`), or None. A field read as an array
    (:meth:`Compiler.where`) matches as a value or an element, another field as a value only;
    a field the table has no column for matches nothing."""
    found = addresses.one_address(condition)
    if found is None:
        return None
    address, names = found
    bits = 0
    for name in names:
        holder = reference().array_of(name)
        if holder is None and compiler.kinds.get(name) == ARRAY:
            holder = (name, "")
        if holder is not None and (holder[0] != name or holder[1]):
            return None
        if name.lower() not in compiler.columns:
            continue
        bits |= addresses.bit(name, element=False)
        if holder is not None:
            bits |= addresses.bit(name, element=True)
    return address, bits


@dataclass(frozen=True)
class _Matched:
    """The events an indexed condition matches, as three SELECTs (each with its values):
    ``rows``, ``ts, seq, agency`` of those the address index holds, in its order (newest
    last); ``counts``, ``agency, events, first, last`` of the same, a few rows summed by
    address, fields and agency; ``later``, ``ts, seq, agency`` of the events the index does
    not hold yet, read from the events, where ``where`` decides."""

    rows: Clause
    counts: Clause
    later: Clause


def _matched(
    indexed: tuple[str, int], where: str, values: list[Any], agencies: Sequence[str] | None
) -> _Matched:
    """The events an indexed condition matches (``where`` holds the agencies' test too)."""
    address, bits = indexed
    test = "address = ? AND fields & ? != 0"
    given: list[Any] = [address, bits]
    if agencies is not None:
        test += " AND agency IN (SELECT value FROM json_each(?))"
        given.append(json.dumps(list(agencies)))
    # NOT INDEXED: the events after the index's head by seq, not every event by time
    later = (
        f'SELECT "@timestamp" AS ts, seq, "organization.id" AS agency FROM {TABLE} NOT INDEXED '
        f"WHERE seq > (SELECT seq FROM {addresses.UPTO}) AND {where}"
    )
    return _Matched(
        rows=(f"SELECT ts, seq, agency FROM {addresses.TABLE} WHERE {test}", given),
        counts=(f"SELECT agency, events, first, last FROM {addresses.COUNTS} WHERE {test}", given),
        later=(later, values),
    )


def search(
    conn: sqlite3.Connection,
    compiler: Compiler,
    condition: Condition | None,
    *,
    agencies: Sequence[str] | None,
    limit: int,
    offset: int,
) -> tuple[int, sqlite3.Cursor]:
    """The total and a cursor over one page (the store reads the rows back)."""
    register(conn)
    where, values = _scope(condition, agencies, compiler)
    page = [max(0, limit), min(max(0, offset), MAX_OFFSET)]
    indexed = _indexed(condition, compiler)
    if indexed is not None:
        matched = _matched(indexed, where, values, agencies)
        (rows, at), (counts, summed), (later, tail) = matched.rows, matched.counts, matched.later
        total = conn.execute(
            f"SELECT (SELECT COALESCE(SUM(events), 0) FROM ({counts})) "
            f"+ (SELECT COUNT(*) FROM ({later}))",
            [*summed, *tail],
        ).fetchone()[0]
        cursor = conn.execute(
            f"SELECT {TABLE}.* FROM ({rows} UNION ALL {later} ORDER BY 1 DESC, 2 DESC "
            f"LIMIT ? OFFSET ?) AS page CROSS JOIN {TABLE} ON {TABLE}.seq = page.seq "
            "ORDER BY page.ts DESC, page.seq DESC",
            [*at, *tail, *page],
        )
        return int(total), cursor
    source, given = _events(condition)
    counted = conn.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}", [*given, *values])
    total = int(counted.fetchone()[0])
    cursor = conn.execute(
        f"SELECT {TABLE}.* FROM {source} WHERE {where} "
        f'ORDER BY "@timestamp" DESC, {TABLE}.seq DESC LIMIT ? OFFSET ?',
        [*given, *values, *page],
    )
    return total, cursor


def seen_by(
    conn: sqlite3.Connection, compiler: Compiler, condition: Condition | None
) -> list[AgencySeen]:
    register(conn)
    where, values = _scope(condition, None, compiler)
    indexed = _indexed(condition, compiler)
    if indexed is not None:
        matched = _matched(indexed, where, values, None)
        (counts, counted), (later, tail) = matched.counts, matched.later
        rows = conn.execute(
            f"SELECT agency, SUM(events), MIN(first), MAX(last) FROM ({counts} UNION ALL "
            f"SELECT agency, 1, ts, ts FROM ({later})) GROUP BY agency ORDER BY agency",
            [*counted, *tail],
        ).fetchall()
        return [AgencySeen(str(a or ""), int(n), first, last) for a, n, first, last in rows]
    source, given = _events(condition)
    rows = conn.execute(
        f'SELECT "organization.id", COUNT(*), MIN("@timestamp"), MAX("@timestamp") '
        f'FROM {source} WHERE {where} GROUP BY "organization.id" ORDER BY "organization.id"',
        [*given, *values],
    ).fetchall()
    return [AgencySeen(str(a or ""), int(n), first, last) for a, n, first, last in rows]
