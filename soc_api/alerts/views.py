"""``/api/v1/alerts``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from soc_api.alerts.models import AlertPage, AlertPublic, AlertStatus, Severity
from soc_api.alerts.service import list_alerts
from soc_api.deps import CurrentAnalyst, SessionDep

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage)
def get_alerts(
    session: SessionDep,
    analyst: CurrentAnalyst,
    status: AlertStatus | None = None,
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertPage:
    """Alerts the caller may see, riskiest and newest first."""
    total, rows = list_alerts(
        session,
        agencies=analyst.agencies,
        status=status.value if status else None,
        severity=severity.value if severity else None,
        rule_name=rule,
        limit=limit,
        offset=offset,
    )
    return AlertPage(total=total, items=[AlertPublic.model_validate(r) for r in rows])
