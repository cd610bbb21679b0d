"""Every event rule of a detection run in one scan of the new events.

Each compiled event rule is ``SELECT * FROM detection_scope WHERE <condition>``. Running them
one by one reads the slice once per rule; here the slice is read once: SQLite keeps a row
when any rule's condition holds, and says which with one ``CASE WHEN <condition>`` column per
rule (evaluated on the kept rows only). A condition is the rule's own SQL text, so each rule
matches exactly the rows its own query would. Rules whose SQL has another shape, and every
rule of a chunk whose combined query SQLite refuses, run on their own as before.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detections.engine.compiler import CompiledRule
from detections.engine.condition_shape import (
    Node,
    needed_columns,
    node_columns,
    parse,
    required_values,
)
from detections.engine.targets import SCOPE
from eventstore.sqlite import TABLE, quote

CHUNK = 48
"""Rules per combined query (SQLite bounds an expression's depth and a result's columns)."""

_PREFIX = f"SELECT * FROM {SCOPE} WHERE "  # noqa: S608  # a constant name
_FLAG = "citysoc_rule_"


def condition(rule: CompiledRule) -> str | None:
    """The rule's WHERE condition, or None when its SQL is not a plain filter of the scope."""
    if rule.kind != "event" or not rule.sql.startswith(_PREFIX):
        return None
    text = rule.sql[len(_PREFIX) :]
    return text if self_contained(text) else None


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]")


def self_contained(text: str) -> bool:
    """Whether the text stays one expression inside parentheses: its own parentheses balance
    and it holds no statement end or comment outside quotes."""
    bare = _QUOTED.sub("0", text)
    if any(mark in bare for mark in (";", "--", "/*", "'", '"', "`", "[", "]")):
        return False  # a comment, a second statement or an unterminated quote
    depth = 0
    for char in bare:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@dataclass(frozen=True)
class CombinedScan:
    """One query for a chunk of event rules over ``after < seq <= upto`` of the store."""

    rules: tuple[CompiledRule, ...]
    sql: str

    @classmethod
    def of(cls, rules: Sequence[CompiledRule]) -> CombinedScan:
        conditions = [f"({condition(rule)})" for rule in rules]
        flags = ", ".join(
            f"CASE WHEN {cond} THEN 1 ELSE 0 END AS {_FLAG}{n}" for n, cond in enumerate(conditions)
        )
        where = f"seq > ? AND seq <= ? AND ({_prefilter(rules)})"
        sql = f"SELECT *, {flags} FROM main.{TABLE} WHERE {where}"  # noqa: S608  # the rules' own SQL
        return cls(rules=tuple(rules), sql=sql)

    def rows(
        self, conn: sqlite3.Connection, after: int, upto: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Each rule's matching rows (as its own query names them), in store order."""
        cur = conn.execute(self.sql, (after, upto))
        names = [d[0] for d in cur.description]
        width = len(names) - len(self.rules)
        columns = names[:width]
        found: dict[str, list[dict[str, Any]]] = {rule.rule_id: [] for rule in self.rules}
        lists = [found[rule.rule_id] for rule in self.rules]
        for row in cur:
            event = dict(zip(columns, row[:width], strict=True))
            for hits, flag in zip(lists, row[width:], strict=True):
                if flag:
                    hits.append(event)
        return found


def plan(rules: Sequence[CompiledRule]) -> tuple[list[CombinedScan], list[CompiledRule]]:
    """Combined scans for the event rules that fit one, and the rules that must run alone."""
    combinable = [rule for rule in rules if condition(rule) is not None]
    alone = [rule for rule in rules if condition(rule) is None]
    scans = [CombinedScan.of(combinable[n : n + CHUNK]) for n in range(0, len(combinable), CHUNK)]
    return scans, alone


def _prefilter(rules: Sequence[CompiledRule], known: frozenset[str] = frozenset()) -> str:
    """A condition that holds on every row some rule matches, and costs less per row than
    all the rules' conditions: a rule that pins a field's value is evaluated only on rows
    with that value (one ``CASE`` on the field for all such rules; within it, the same again
    on the other fields), a rule that needs one of a few columns only where one of them is
    set, the others as they are. ``known``: fields already dispatched on."""
    shapes = {rule.rule_id: parse(f"{condition(rule)}") for rule in rules}
    pinned = _pin(rules, shapes, known)
    branches: list[str] = []
    placed: set[str] = set()
    for field, by_value in pinned.items():
        whens = " ".join(
            f"WHEN {_literal(value)} THEN ({_prefilter(chosen, known | {field})})"
            for value, chosen in sorted(by_value.items())
        )
        value_of = f"CAST({quote(field)} AS TEXT) COLLATE NOCASE"  # as LIKE and NOCASE see it
        branches.append(f"CASE {value_of} {whens} ELSE 0 END")
        placed.update(r.rule_id for chosen in by_value.values() for r in chosen)
    for rule in rules:
        if rule.rule_id in placed:
            continue
        node = shapes[rule.rule_id]
        needed = needed_columns(node) if node is not None else None
        if needed and not needed & known:
            present = " OR ".join(f"{quote(c)} IS NOT NULL" for c in sorted(needed))
            branches.append(f"(({present}) AND ({condition(rule)}))")
        else:
            branches.append(f"({condition(rule)})")
    return " OR ".join(branches)


def _pin(
    rules: Sequence[CompiledRule], shapes: dict[str, Node | None], known: frozenset[str]
) -> dict[str, dict[str, list[CompiledRule]]]:
    """Rules by the field whose value they pin and that value (a rule pinning several values
    is under each), choosing first the field that pins the most rules."""
    pins: dict[str, dict[str, frozenset[str]]] = {}  # rule id -> field -> values
    for rule in rules:
        node = shapes[rule.rule_id]
        if node is None:
            continue
        fields = node_columns(node) - known
        found = {f: v for f in fields if (v := required_values(node, f))}
        if found:
            pins[rule.rule_id] = found
    chosen: dict[str, dict[str, list[CompiledRule]]] = {}
    left = [rule for rule in rules if rule.rule_id in pins]
    while left:
        counts: dict[str, int] = {}
        for rule in left:
            for field in pins[rule.rule_id]:
                counts[field] = counts.get(field, 0) + 1
        field = max(sorted(counts), key=lambda f: counts[f])
        by_value = chosen.setdefault(field, {})
        for rule in [r for r in left if field in pins[r.rule_id]]:
            for value in pins[rule.rule_id][field]:
                by_value.setdefault(value, []).append(rule)
            left.remove(rule)
    return chosen


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
