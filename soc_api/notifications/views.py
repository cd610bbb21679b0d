"""``/api/v1/notifications``: recent deliveries and failures, as far as the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader
from soc_api.deps import CurrentAnalyst, SessionDep
from soc_api.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationPage,
    NotificationPublic,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


def list_notifications(
    session: Session,
    *,
    who: Principal,
    status: DeliveryStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> NotificationPage:
    """Deliveries newest first: an agency's callers see their agency's recipients' only."""
    require_reader(who)
    query = select(Notification)
    if who.agencies is not None:
        query = query.where(Notification.agency.in_(who.agencies))
    mine = query.subquery()
    counts: dict[str, int] = dict(
        session.execute(select(mine.c.status, func.count()).group_by(mine.c.status)).all()
    )
    if status is not None:
        query = query.where(Notification.status == status.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(offset)).all()
    return NotificationPage(
        total=int(total),
        failed=int(counts.get(DeliveryStatus.FAILED.value, 0)),
        pending=int(counts.get(DeliveryStatus.PENDING.value, 0)),
        items=[NotificationPublic.model_validate(r) for r in rows],
    )


@router.get("", response_model=NotificationPage)
def get_notifications(
    session: SessionDep,
    analyst: CurrentAnalyst,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> NotificationPage:
    """Notifications of new alerts and case changes, with each delivery's attempts and last
    error; failed ones were given up after CITYSOC_NOTIFY_ATTEMPTS tries."""
    return list_notifications(session, who=analyst, status=status, limit=limit, offset=offset)
