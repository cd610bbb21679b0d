"""What correlations read: the look-back's events that some member rule matches, kept up to
date run by run.

A correlation's SQL reads every event of its look-back and keeps those its member rules match
(``COALESCE((<condition>), 0) AS b<n>`` then ``WHERE b<n>``). At a city's rate the look-back of
a 30-minute rule is millions of events, read again on every run, by every correlation. Here
the events any correlation's member rules match are copied once into a table of the detection
connection, from the new slice only, and the copy is cut at the oldest time a run can still
need; each correlation then reads that table. The copy holds a superset of what each rule's
own conditions keep, so the rules' answers are the same.

A slice whose oldest event is older than what the copy covers (a late event, a first run, a
gap in positions) fills it again from the store for the whole look-back.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence

from detections.engine.compiler import CompiledRule
from detections.engine.event_scan import self_contained
from eventstore.sqlite import TABLE, quote

log = logging.getLogger(__name__)

CANDIDATES = "citysoc_correlation_candidates"
_MEMBER = re.compile(r"COALESCE\(\((.*?)\), 0\) AS b\d+(?=[ ,])")
_GATE = re.compile(r"FROM detection_scope\)")


def member_conditions(sql: str) -> str | None:
    """The OR of a correlation's member conditions read from its SQL, or ``None`` when the SQL
    has another shape than the one this reads (the rule then reads its whole look-back)."""
    if len(_GATE.findall(sql)) != sql.count("detection_scope"):
        return None  # the scope is read in a way not gated by member conditions
    found = _MEMBER.findall(sql)
    if not found or not all(self_contained(text) for text in found):
        return None
    return " OR ".join(f"({text})" for text in dict.fromkeys(found))


class CandidateTable:
    """The correlations' candidates in a temporary table of the store's connection."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        chosen = [r for r in rules if r.kind != "event" and member_conditions(r.sql)]
        self.rule_ids = frozenset(r.rule_id for r in chosen)
        conditions = [member_conditions(r.sql) for r in chosen]
        self.condition = " OR ".join(f"({c})" for c in dict.fromkeys(conditions) if c)
        columns = {"event.id", "@timestamp"} | {f for r in chosen for f in r.fields}
        self.columns = ", ".join(["seq", *(quote(c) for c in sorted(columns))])
        self.covered_from: str | None = None  # every candidate at or after this time is held
        self.upto = -1  # ... up to this position

    def covers(self, rule: CompiledRule) -> bool:
        return rule.rule_id in self.rule_ids

    def refresh(self, conn: sqlite3.Connection, after: int, upto: int, since: str) -> None:
        """Hold every candidate with a position up to ``upto`` and a time from ``since``."""
        if not self.rule_ids:
            return
        fresh = self.covered_from is None or self.upto != after or since < self.covered_from
        if fresh:
            conn.execute(f"DROP TABLE IF EXISTS temp.{CANDIDATES}")
            conn.execute(
                f"CREATE TEMP TABLE {CANDIDATES} AS SELECT {self.columns} FROM main.{TABLE} "  # noqa: S608
                f'WHERE seq <= ? AND "@timestamp" >= ? AND ({self.condition})',
                (upto, since),
            )
            conn.execute(f'CREATE INDEX temp.{CANDIDATES}_ts ON {CANDIDATES} ("@timestamp")')
        else:
            conn.execute(
                f"INSERT INTO temp.{CANDIDATES} SELECT {self.columns} FROM main.{TABLE} "  # noqa: S608
                f"WHERE seq > ? AND seq <= ? AND ({self.condition})",
                (after, upto),
            )
            prune = f'DELETE FROM temp.{CANDIDATES} WHERE "@timestamp" < ?'  # noqa: S608
            conn.execute(prune, (since,))
        conn.commit()  # the copy's INSERT began a transaction: ending it lets this
        # connection see what other writers store next (a WAL reader keeps its snapshot)
        self.covered_from, self.upto = since, upto

    def forget(self, conn: sqlite3.Connection) -> None:
        """Drop the copy: the next run fills it again (after an error)."""
        conn.execute(f"DROP TABLE IF EXISTS temp.{CANDIDATES}")
        conn.commit()
        self.covered_from, self.upto = None, -1

    def scope(self, upto: int, since: str) -> str:
        """The SELECT a correlation's scope view reads."""
        return (
            f"SELECT * FROM temp.{CANDIDATES} "  # noqa: S608  # a constant name
            f'WHERE seq <= {int(upto)} AND "@timestamp" >= {_literal(since)}'
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
