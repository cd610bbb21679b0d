"""Run the rules on the engine store: the engine narrows, the rules' SQLite queries decide.

For a slice of ingest positions ``(after, upto]`` the engine answers, per rule, the events its
query (:mod:`detections.engine.engine_queries`) finds among the new events; for correlations
also the events of their member rules within the rule's look-back before the oldest new
event. Only those candidates leave the engine. They are laid into an in-memory SQLite store
(older ones first) and :class:`~detections.engine.runner.DetectionRunner` evaluates every rule
on them exactly as on the embedded store: the same sliding correlation windows, the same
hits, so both stores raise the same alerts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from citysoc.core.ecs import Event, parse_timestamp, timestamp
from citysoc.core.errors import StoreError
from detections.engine.compiler import CompiledRule
from detections.engine.runner import DetectionRunner, RunReport
from eventstore.engine.layout import LONG_FIELDS
from eventstore.engine.store import EngineEventStore, ingest_window
from eventstore.sqlite import SqliteEventStore

log = logging.getLogger(__name__)

MAX_CANDIDATES = 200_000
"""Events one rule may bring out of the engine in one run; beyond that the rule is reported
as failed for the run (a rule that broad belongs in the engine's own aggregations)."""


class EngineDetectionRunner:
    def __init__(
        self,
        store: EngineEventStore,
        rules: list[CompiledRule],
        queries: dict[str, str],
        *,
        max_candidates: int = MAX_CANDIDATES,
    ) -> None:
        self.store = store
        self.rules = [r for r in rules if r.rule_id in queries]
        self.queries = queries
        self.max_candidates = max_candidates

    def run(self, after: int, upto: int) -> RunReport:
        """Evaluate every rule on events ingested in positions ``after < p <= upto``."""
        report = RunReport()
        if upto <= after:
            return report
        window = ingest_window(after, upto)
        report.events_scanned, oldest_new = self.store.slice_summary(after, upto)
        if not report.events_scanned or oldest_new is None:
            return report
        older: dict[str, Event] = {}
        newer: dict[str, Event] = {}
        asked: list[tuple[CompiledRule, dict[str, Event], dict[str, Any]]] = []
        for rule in self.rules:
            if rule.kind == "correlation":
                since = parse_timestamp(oldest_new) - timedelta(seconds=rule.timespan_seconds)
                asked.append((rule, older, _looking_back(after, since)))
            asked.append((rule, newer, window))
        queries = [self._query(rule, clause) for rule, _, clause in asked]
        answers = self.store.search_each(queries, limit=self.max_candidates + 1)
        for (rule, into, _), found in zip(asked, answers, strict=True):
            if isinstance(found, list) and len(found) > self.max_candidates:
                found = StoreError(
                    f"more than {self.max_candidates} candidate events in one run; narrow the rule"
                )
            if isinstance(found, StoreError):
                log.error("rule %s (%s) failed on the engine: %s", rule.name, rule.rule_id, found)
                report.rule_errors[rule.rule_id] = str(found)
                continue
            into.update((str(event["event.id"]), event) for event in found)
        with SqliteEventStore(Path(":memory:")) as scratch:
            scratch.write(e for i, e in older.items() if i not in newer)
            first_new = scratch.head()
            scratch.write(newer.values())
            decided = DetectionRunner(scratch, self.rules).run(
                first_new, scratch.head(), oldest_new=oldest_new
            )
        report.hits = decided.hits
        report.rule_errors.update(decided.rule_errors)
        return report

    def _query(self, rule: CompiledRule, clause: dict[str, Any]) -> dict[str, Any]:
        """The rule's query within ``clause`` (a slice or a look-back), or any event with a
        value too long to be indexed (the rule's SQLite query decides those)."""
        lucene = {"query_string": {"query": self.queries[rule.rule_id], "analyze_wildcard": True}}
        unindexed = {"exists": {"field": LONG_FIELDS}}
        narrowed = {"bool": {"should": [lucene, unindexed], "minimum_should_match": 1}}
        return {"bool": {"filter": [clause, narrowed]}}


def _looking_back(after: int, since: datetime) -> dict[str, Any]:
    """Events ingested before the slice whose ``@timestamp`` is ``since`` or later."""
    before = {"lt": (after + 1) * 1000, "format": "epoch_millis"}
    return {
        "bool": {
            "filter": [
                {"range": {"event.ingested": before}},
                {"range": {"@timestamp": {"gte": timestamp(since.timestamp())}}},
            ]
        }
    }
