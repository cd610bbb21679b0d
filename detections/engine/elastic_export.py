"""Export the rules as Elastic Security detection rules (NDJSON, for Kibana's rule import).

Event rules become ``query`` rules (Lucene). A correlation that counts events of one rule
becomes a ``threshold`` rule (``event_count``; ``value_count`` with a cardinality), ordered
sequences become ``eql`` rules, and the rest become ``esql`` rules (tumbling buckets).
Rules are imported disabled; each carries its runbook as the investigation guide.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from citysoc.core.errors import Location, RuleError
from detections.engine.attack import use_offline_attack_data
from detections.engine.catalog import RUNBOOKS_ROOT, Catalog, RuleFolder, parse_rule_text
from detections.engine.pipeline import index_for
from detections.engine.targets import backend, convert

log = logging.getLogger(__name__)

RISK = {"informational": 5, "low": 21, "medium": 47, "high": 73, "critical": 99}
Rule = SigmaRule | SigmaCorrelationRule


@dataclass
class Export:
    rules: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[RuleError] = field(default_factory=list)

    def ndjson(self) -> str:
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rules)


def _threat(rule: Rule) -> list[Any]:
    """The ATT&CK ``threat`` block, as pySigma's Elastic backend builds it."""
    if not isinstance(rule, SigmaRule):
        return []
    siem = convert(backend("lucene"), rule, "siem_rule")
    return list(siem[0]["params"]["threat"]) if siem else []


def _base(folder: RuleFolder, rule: Rule) -> dict[str, Any]:
    level = rule.level.name.lower() if rule.level else "medium"
    runbook = RUNBOOKS_ROOT / str(rule.custom_attributes.get("runbook", ""))
    return {
        "rule_id": str(rule.id),
        "name": rule.title,
        "description": (rule.description or rule.title).strip(),
        "severity": "critical" if level == "critical" else level,
        "risk_score": RISK.get(level, 47),
        "author": [rule.author or "citysoc"],
        "license": "Apache-2.0",
        "references": list(rule.references or []),
        "false_positives": list(rule.falsepositives or []),
        "tags": ["citysoc", folder.area, f"owner:{rule.custom_attributes.get('owner', '')}"],
        "note": runbook.read_text(encoding="utf-8") if runbook.is_file() else "",
        "enabled": False,
        "interval": "5m",
        "from": "now-6m",
        "max_signals": 100,
        "version": 1,
    }


def _member(catalog: Catalog, rule: SigmaCorrelationRule) -> SigmaRule | None:
    """The one rule a correlation counts, parsed afresh so it converts on its own."""
    refs = rule.rules or []
    if len(refs) != 1:
        return None
    for folder in catalog.folders:
        if refs[0].reference in (folder.rule.name, folder.rule_id):
            fresh = parse_rule_text(folder.text, folder.path / "rule.yml")
            return fresh if isinstance(fresh, SigmaRule) else None
    return None


def _correlation(catalog: Catalog, rule: SigmaCorrelationRule) -> dict[str, Any]:
    """Threshold rules run every ``timespan`` over the last two timespans, so no burst that
    fits in the timespan falls between two runs (one spread over up to twice the timespan
    may also fire); sequences and ES|QL buckets look back one run interval plus the span."""
    member = _member(catalog, rule)
    count = getattr(rule.condition, "count", None)
    op = getattr(rule.condition, "op", None)
    span = rule.timespan.seconds
    counting = (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT)
    if member is not None and rule.type in counting and op is not None and count is not None:
        value = count + 1 if op.name == "GT" else count
        threshold: dict[str, Any] = {"field": list(rule.group_by or []), "value": 1}
        if rule.type == SigmaCorrelationType.EVENT_COUNT:
            threshold["value"] = value
        else:  # distinct values: EQL's "by" joins equal values, so only a threshold fits
            fieldref = getattr(rule.condition, "fieldref", None)
            threshold["cardinality"] = [{"field": fieldref, "value": value}]
        return {
            "type": "threshold",
            "language": "lucene",
            "query": convert(backend("lucene"), member)[0],
            "index": [index_for(_logsource(member))],
            "threshold": threshold,
            "interval": f"{max(span, 60)}s",
            "from": f"now-{2 * max(span, 60)}s",
        }
    lookback = f"now-{300 + span}s"
    if rule.type == SigmaCorrelationType.TEMPORAL_ORDERED:
        query = convert(backend("eql"), rule)[0]
        return {
            "type": "eql",
            "language": "eql",
            "query": query,
            "index": ["logs-*"],
            "from": lookback,
        }
    query = convert(backend("esql"), rule)[0]
    return {"type": "esql", "language": "esql", "query": query, "from": lookback}


def _logsource(rule: SigmaRule) -> dict[str, str | None]:
    ls = rule.logsource
    return {"product": ls.product, "category": ls.category, "service": ls.service}


def _event_rule(folder: RuleFolder) -> dict[str, Any]:
    # parsed afresh: a rule that a correlation also generates from converts differently
    rule = parse_rule_text(folder.text, folder.path / "rule.yml")
    if not isinstance(rule, SigmaRule):
        raise KeyError("not an event rule")
    return {
        "type": "query",
        "language": "lucene",
        "query": convert(backend("lucene"), rule)[0],
        "index": [index_for(_logsource(rule))],
        "threat": _threat(rule),
    }


def export_catalog(catalog: Catalog, *, generating: set[str]) -> Export:
    """Every alerting rule (ids in ``generating``) as an Elastic detection rule."""
    use_offline_attack_data()
    result = Export()
    folders = catalog.by_id()
    for rule in catalog.collection().rules:
        rid = str(rule.id)
        if rid not in generating:
            continue
        folder = folders[rid]
        try:
            body = _base(folder, rule)
            if isinstance(rule, SigmaCorrelationRule):
                body.update(_correlation(catalog, rule))
                member = _member(catalog, rule)
                body["threat"] = _threat(member) if member else []
            else:
                body.update(_event_rule(folder))
        except (SigmaError, IndexError, KeyError) as exc:
            where = Location(str(folder.path / "rule.yml"))
            result.skipped.append(RuleError(f"not exportable to Elastic: {exc}", location=where))
            continue
        result.rules.append(body)
    log.info("exported %d rules to Elastic (%d skipped)", len(result.rules), len(result.skipped))
    return result
