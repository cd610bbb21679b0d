"""Rules with their status and last hit, and the ATT&CK tactics and techniques they cover."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysoc.core.errors import RuleError
from detections.engine.compiler import CompiledRule
from soc_api.alerts.models import Alert
from soc_api.auth.models import Principal, Role
from soc_api.auth.permissions import require_rules_reader

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


class RuleStatus(BaseModel):
    rule_id: str
    name: str
    title: str
    level: str
    kind: str
    status: str  # "active" or "error"
    tactics: list[str]
    techniques: list[str]
    owner: str
    runbook: str
    alerts: int
    last_hit: str | None


class RuleCatalog(BaseModel):
    rules: list[RuleStatus]
    errors: list[str]
    coverage: dict[str, list[str]]  # tactic -> techniques covered


def _attack(tags: Sequence[str]) -> tuple[list[str], list[str]]:
    tactics, techniques = [], []
    for tag in tags:
        technique = _TECHNIQUE.match(tag)
        if technique:
            techniques.append(technique.group(1).upper())
        elif tag.lower().startswith("attack."):
            tactics.append(tag.lower().removeprefix("attack.").replace("-", "_"))
    return tactics, techniques


def rule_catalog(
    session: Session,
    *,
    rules: Sequence[CompiledRule],
    errors: Sequence[RuleError],
    who: Principal,
) -> RuleCatalog:
    """Alert counts and last hits within the caller's agencies (city-wide for ops)."""
    require_rules_reader(who)
    query = select(Alert.rule_id, func.count(), func.max(Alert.last_seen)).group_by(Alert.rule_id)
    if who.agencies is not None and who.role is not Role.OPS:  # ops tune rules city-wide
        query = query.where(Alert.agency.in_(who.agencies))
    hits = {rule_id: (count, last) for rule_id, count, last in session.execute(query).all()}
    coverage: dict[str, set[str]] = defaultdict(set)
    out = []
    for rule in sorted(rules, key=lambda r: r.name):
        tactics, techniques = _attack(rule.tags)
        for tactic in tactics:
            coverage[tactic].update(techniques)
        count, last = hits.get(rule.rule_id, (0, None))
        out.append(
            RuleStatus(
                rule_id=rule.rule_id,
                name=rule.name,
                title=rule.title,
                level=rule.level,
                kind=rule.kind,
                status="active",
                tactics=tactics,
                techniques=techniques,
                owner=rule.owner,
                runbook=rule.runbook,
                alerts=int(count),
                last_hit=last,
            )
        )
    return RuleCatalog(
        rules=out,
        errors=[str(e) for e in errors],
        coverage={t: sorted(v) for t, v in sorted(coverage.items())},
    )
