"""``/api/v1/rules``."""

from __future__ import annotations

from fastapi import APIRouter

from soc_api.deps import ContextDep, CurrentAnalyst, SessionDep
from soc_api.rules.service import RuleCatalog, rule_catalog

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])


@router.get("", response_model=RuleCatalog)
def get_rules(ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst) -> RuleCatalog:
    """Every loaded rule with its status and last hit; rules that failed to load; coverage."""
    return rule_catalog(session, rules=ctx.rules, errors=ctx.rule_errors, who=analyst)
