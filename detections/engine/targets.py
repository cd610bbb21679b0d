"""The query languages rules compile to, each a pySigma backend with citysoc's pipeline.

``sqlite`` is the embedded store's; ``lucene``, ``esql`` and ``eql`` are Elasticsearch's.
Correlation rules: SQLite evaluates sliding windows; ES|QL buckets time into tumbling
windows (``date_trunc``); EQL expresses ordered sequences; Lucene has no correlations.

A field ECS defines as an array (``event.category``, ``related.ip``, ``dns.answers.data``, ...)
matches when any of its values does: the engines do that themselves, and the SQLite backend
here compares each element of the stored array (:func:`eventstore.sqlite.elements_sql`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaFieldReference, SigmaNull

from citysoc.core.ecs_reference import reference
from detections.engine.pipeline import citysoc_pipeline
from eventstore.sqlite import elements_sql

SCOPE = "detection_scope"
"""The relation every SQLite query reads; the runner defines what it holds."""

Backend = Any  # pySigma backends are untyped classes


class ArrayAwareSqliteBackend(sqliteBackend):  # type: ignore[misc,unused-ignore]
    """pySigma's SQLite backend, with a value of an ECS array field matched element-wise."""

    ELEMENT: ClassVar[str] = "\x00citysoc-element:"  # a field name no rule can write

    def escape_and_quote_field(self, field: str) -> str:
        if field.startswith(self.ELEMENT):
            return field[len(self.ELEMENT) :]  # the element expression itself
        return str(super().escape_and_quote_field(field))

    def _in_elements(self, field: str, convert: Callable[[str], Any]) -> Any:
        """The condition ``convert`` makes of an element, for any element of ``field``."""
        array, path = reference().array_of(field) or (field, "")
        values_from, element = elements_sql(self.escape_and_quote_field(array), path)
        inner = convert(self.ELEMENT + element)
        return f"EXISTS (SELECT 1 FROM {values_from} WHERE {inner})"  # noqa: S608  # quoted names

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if reference().array_of(cond.field) is None or isinstance(
            cond.value, SigmaNull | SigmaExists | SigmaFieldReference
        ):
            return super().convert_condition_field_eq_val(cond, state)

        def on(element: str) -> Any:
            inner = copy.copy(cond)
            inner.field = element
            return super(ArrayAwareSqliteBackend, self).convert_condition_field_eq_val(inner, state)

        return self._in_elements(cond.field, on)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        args = [arg for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        field = args[0].field if args and len(args) == len(cond.args) else ""
        if reference().array_of(field) is None or isinstance(cond, ConditionAND):
            return super().convert_condition_as_in_expression(cond, state)

        def on(element: str) -> Any:
            inner = copy.copy(cond)
            renamed = [copy.copy(arg) for arg in args]
            for arg in renamed:
                arg.field = element
            inner.args = list(renamed)
            return super(ArrayAwareSqliteBackend, self).convert_condition_as_in_expression(
                inner, state
            )

        return self._in_elements(field, on)


def _sqlite() -> Backend:
    return ArrayAwareSqliteBackend(
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
