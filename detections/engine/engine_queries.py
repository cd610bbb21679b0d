"""Rules as engine queries: what narrows a slice to the events a rule may match.

The engine runs each rule as a Lucene query (pySigma's Lucene backend, with the same
processing pipeline as every other target). A Sigma condition the engine cannot evaluate as
the SQLite backend does (a regular expression, which Lucene anchors and spells differently;
a time part such as ``|hour``) is relaxed to "the field is there": the query then finds a
superset, and the runner decides each candidate with the rule's SQLite query, so both stores
raise the same alerts. Relaxing is only sound where the condition is not negated; a rule that
negates one is refused for the engine, with the reason.

A correlation's query finds the events of every rule it refers to (nested ones included).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionItem, ConditionNOT
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaRegularExpression, SigmaString, SigmaTimestampPart

from citysoc.core.errors import Location, RuleError
from detections.engine.catalog import Catalog
from detections.engine.targets import backend, convert

log = logging.getLogger(__name__)

INEXACT = (SigmaRegularExpression, SigmaTimestampPart)


@dataclass
class EngineQueries:
    """One Lucene query per generating rule id, and the rules that could not have one."""

    queries: dict[str, str] = field(default_factory=dict)
    errors: list[RuleError] = field(default_factory=list)


def _negated_inexact(node: object, negated: bool = False) -> Iterator[str]:
    """Fields of inexact conditions that sit under an odd number of ``not``."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if negated and isinstance(node.value, INEXACT):
            yield str(node.field)
        return
    if isinstance(node, ConditionItem):
        flip = isinstance(node, ConditionNOT)
        for arg in node.args:
            yield from _negated_inexact(arg, negated != flip)


def relax(rule: SigmaRule) -> SigmaRule:
    """The rule with its inexact conditions replaced by "the field is there" (in place)."""
    for condition in rule.detection.parsed_condition:
        negated = sorted(set(_negated_inexact(condition.parse())))
        if negated:
            raise SigmaError(f"negates a condition the engine cannot evaluate exactly: {negated}")
    for detection in rule.detection.detections.values():
        _relax_detection(detection)
    return rule


def _relax_detection(detection: SigmaDetection) -> None:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            _relax_detection(item)
        elif any(isinstance(value, INEXACT) for value in item.value):
            item.value = [SigmaString("*")]
            item.modifiers = []


def _members(rule: SigmaCorrelationRule) -> Iterator[SigmaRule]:
    for ref in rule.rules or ():
        if isinstance(ref.rule, SigmaCorrelationRule):
            yield from _members(ref.rule)
        elif isinstance(ref.rule, SigmaRule):
            yield ref.rule


def compile_engine_queries(catalog: Catalog, rule_ids: set[str]) -> EngineQueries:
    """Lucene queries for the rules ``rule_ids`` names (the ones that raise alerts)."""
    result = EngineQueries()
    lucene = backend("lucene")
    folders = catalog.by_id()
    rules = catalog.collection().rules  # parsed afresh: the pipeline changes what it converts
    for rule in rules:
        rule_id = str(rule.id)
        if rule_id not in rule_ids:
            continue
        members = list(_members(rule)) if isinstance(rule, SigmaCorrelationRule) else [rule]
        try:
            parts = []
            for member in members:
                member._output = True  # a referenced rule converts to nothing otherwise
                parts += [str(q) for q in convert(lucene, relax(member))]
        except SigmaError as exc:
            folder = folders.get(rule_id)
            where = Location(str(folder.path / "rule.yml")) if folder else Location(rule_id)
            result.errors.append(RuleError(f"cannot run on the engine: {exc}", location=where))
            continue
        result.queries[rule_id] = " OR ".join(f"({part})" for part in parts)
    log.info(
        "compiled %d rules for the engine (%d errors)", len(result.queries), len(result.errors)
    )
    return result
