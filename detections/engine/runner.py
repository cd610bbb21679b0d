"""Run compiled rules over a slice of the event store and report hits.

The scheduler calls :meth:`DetectionRunner.run` with a range of store sequence numbers.
Event rules see only the new events, all of them in one scan (:mod:`detections.engine.
event_scan`); correlation rules also see the events that came before them within the rule's
timespan, so a burst split across two runs still fires.
Correlation windows are sliding (the SQLite backend's semantics); overlapping qualifying
windows of one group are merged into one hit.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from citysoc.core.ecs import parse_timestamp, timestamp
from detections.engine.compiler import CompiledRule
from detections.engine.correlation_scope import CandidateTable
from detections.engine.event_scan import plan
from detections.engine.targets import SCOPE
from eventstore.sqlite import TABLE, SqliteEventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """A rule fired: on one event, or on a correlated group of events."""

    rule: CompiledRule
    event_ids: tuple[str, ...]
    group: dict[str, Any]
    first_seen: str
    last_seen: str
    metric: int = 1


@dataclass
class RunReport:
    hits: list[Hit] = field(default_factory=list)
    events_scanned: int = 0
    rule_errors: dict[str, str] = field(default_factory=dict)


class DetectionRunner:
    def __init__(self, store: SqliteEventStore, rules: list[CompiledRule]) -> None:
        self.store = store
        self.rules = rules
        self.lookback = max((r.timespan_seconds for r in rules), default=0)
        store.ensure_columns({f for r in rules for f in r.fields})
        self.scans, self._alone = plan(rules)
        self.candidates = CandidateTable(rules)
        self._candidate_lookback = max(
            (r.timespan_seconds for r in rules if self.candidates.covers(r)), default=0
        )

    def run(self, after: int, upto: int, *, oldest_new: str | None = None) -> RunReport:
        """Evaluate every rule on events with ``after < seq <= upto``.

        Correlations look back from the oldest new event's time, or from ``oldest_new`` when
        the caller knows it better (the engine runner, whose slice here holds candidates only).
        """
        report = RunReport()
        if upto <= after:
            return report
        conn = self.store.conn
        with self.store.lock:
            row = conn.execute(
                f'SELECT COUNT(*), MIN("@timestamp") FROM {TABLE} WHERE seq > ? AND seq <= ?',
                (after, upto),
            ).fetchone()
            report.events_scanned = int(row[0])
            if not row[0]:
                return report
            oldest = parse_timestamp(oldest_new or row[1])
            scanned, alone = self._scan(conn, after, upto)
            self._refresh_candidates(conn, after, upto, oldest)
            for rule in self.rules:
                if rule.rule_id in scanned:
                    report.hits.extend(_event_hit(rule, r) for r in scanned[rule.rule_id])
                    continue
                if rule.rule_id not in alone:
                    continue
                try:
                    report.hits.extend(self._run_rule(conn, rule, after, upto, oldest))
                except sqlite3.Error as exc:
                    log.error("rule %s (%s) failed: %s", rule.name, rule.rule_id, exc)
                    report.rule_errors[rule.rule_id] = str(exc)
            conn.execute(f"DROP VIEW IF EXISTS temp.{SCOPE}")
        return report

    def _scan(
        self, conn: sqlite3.Connection, after: int, upto: int
    ) -> tuple[dict[str, list[dict[str, Any]]], set[str]]:
        """The event rules' rows from combined scans, and the rules left to run alone (those
        of another shape, and those of a scan SQLite refused: each then reports its own error)."""
        found: dict[str, list[dict[str, Any]]] = {}
        alone = {rule.rule_id for rule in self._alone}
        for scan in self.scans:
            try:
                found |= scan.rows(conn, after, upto)
            except sqlite3.Error as exc:
                log.warning(
                    "combined scan of %d rules failed, running each: %s", len(scan.rules), exc
                )
                alone.update(rule.rule_id for rule in scan.rules)
        return found, alone

    def _refresh_candidates(
        self, conn: sqlite3.Connection, after: int, upto: int, oldest: Any
    ) -> None:
        since = timestamp((oldest - timedelta(seconds=self._candidate_lookback)).timestamp())
        try:
            self.candidates.refresh(conn, after, upto, since)
        except sqlite3.Error as exc:  # the correlations then read the store itself
            log.warning("correlation candidates not kept (%s): reading the look-back", exc)
            self.candidates.forget(conn)
            self.candidates = CandidateTable([])

    def _define_scope(self, conn: sqlite3.Connection, where: str) -> None:
        conn.execute(f"DROP VIEW IF EXISTS temp.{SCOPE}")
        conn.execute(f"CREATE TEMP VIEW {SCOPE} AS SELECT * FROM main.{TABLE} WHERE {where}")

    def _run_rule(
        self, conn: sqlite3.Connection, rule: CompiledRule, after: int, upto: int, oldest: Any
    ) -> list[Hit]:
        if rule.kind == "event":
            self._define_scope(conn, f"seq > {int(after)} AND seq <= {int(upto)}")
            found = conn.execute(rule.sql)
            names = [d[0] for d in found.description]
            return [_event_hit(rule, dict(zip(names, row, strict=True))) for row in found]
        since = timestamp((oldest - timedelta(seconds=rule.timespan_seconds)).timestamp())
        cur: sqlite3.Cursor | None = None
        if self.candidates.covers(rule):
            conn.execute(f"DROP VIEW IF EXISTS temp.{SCOPE}")
            conn.execute(f"CREATE TEMP VIEW {SCOPE} AS {self.candidates.scope(upto, since)}")
            try:
                cur = conn.execute(rule.sql)
            except sqlite3.Error as exc:  # then on the store itself, which reports its error
                log.debug("rule %s on the candidates failed: %s", rule.name, exc)
        if cur is None:
            self._define_scope(conn, f'seq <= {int(upto)} AND "@timestamp" >= {_literal(since)}')
            cur = conn.execute(rule.sql)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur]
        return _merge_windows(rule, rows, oldest.timestamp())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _event_hit(rule: CompiledRule, row: dict[str, Any]) -> Hit:
    group = {f: row.get(f) for f in rule.entity}
    return Hit(
        rule=rule,
        event_ids=(str(row["event.id"]),),
        group=group,
        first_seen=str(row["@timestamp"]),
        last_seen=str(row["@timestamp"]),
    )


def _merge_windows(
    rule: CompiledRule, rows: list[dict[str, Any]], newest_floor: float
) -> list[Hit]:
    """One hit per run of overlapping qualifying windows of a group that touch new events."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_group.setdefault(row["group_keys"], []).append(row)
    hits = []
    for group_json, windows in by_group.items():
        windows.sort(key=lambda w: (w["window_start"], w["window_end"]))
        runs: list[list[dict[str, Any]]] = []
        for window in windows:
            if runs and window["window_start"] <= runs[-1][-1]["window_end"]:
                runs[-1].append(window)
            else:
                runs.append([window])
        for run in runs:
            if max(w["window_end"] for w in run) < newest_floor:
                continue  # fired already, in an earlier run
            ids: dict[str, None] = {}
            for window in run:
                for eid in json.loads(window["event_ids"]):
                    ids[eid.split(":", 1)[1]] = None
            hits.append(
                Hit(
                    rule=rule,
                    event_ids=tuple(ids),
                    group=json.loads(group_json),
                    first_seen=timestamp(min(w["window_start"] for w in run)),
                    last_seen=timestamp(max(w["window_end"] for w in run)),
                    metric=int(max(w["metric_value"] for w in run)),
                )
            )
    return hits
