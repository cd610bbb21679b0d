"""The query languages rules compile to, each a pySigma backend with citysoc's pipeline.

``sqlite`` is the embedded store's; ``lucene``, ``esql`` and ``eql`` are Elasticsearch's.
Correlation rules: SQLite evaluates sliding windows; ES|QL buckets time into tumbling
windows (``date_trunc``); EQL expresses ordered sequences; Lucene has no correlations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from detections.engine.pipeline import citysoc_pipeline

SCOPE = "detection_scope"
"""The relation every SQLite query reads; the runner defines what it holds."""

Backend = Any  # pySigma backends are untyped classes


def _sqlite() -> Backend:
    return sqliteBackend(
        citysoc_pipeline(), table=SCOPE, event_id_field="event.id", timestamp_field="@timestamp"
    )


TARGETS: dict[str, Callable[[], Backend]] = {
    "sqlite": _sqlite,
    "lucene": lambda: LuceneBackend(citysoc_pipeline()),
    "esql": lambda: ESQLBackend(citysoc_pipeline()),
    "eql": lambda: EqlBackend(citysoc_pipeline()),
}


def backend(target: str) -> Backend:
    """A fresh backend (pipelines mutate rules: use one per collection parse)."""
    return TARGETS[target]()


def convert(
    backend: Backend, rule: SigmaRule | SigmaCorrelationRule, fmt: str = "default"
) -> list[Any]:
    """Queries for one rule; empty for a rule only referenced by correlations.

    A correlation converts together with the rules it refers to, as pySigma requires.
    """
    if isinstance(rule, SigmaCorrelationRule):
        members: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
            ref.rule for ref in rule.rules or ()
        ]
        return list(backend.convert(SigmaCollection([*members, rule]), output_format=fmt))
    return list(backend.convert_rule(rule, output_format=fmt))
