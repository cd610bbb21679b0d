"""Triage: move alerts through new → acknowledged → in progress → closed, assign, annotate.

Every change is checked against the caller's role and agencies, and recorded in the audit
chain in the same transaction as the change itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import CitysocError
from soc_api.alerts.models import (
    TRANSITIONS,
    Alert,
    AlertStatus,
    AlertUpdate,
    BulkResult,
)
from soc_api.alerts.queries import get_alert
from soc_api.audit import service as audit
from soc_api.auth.models import TRIAGERS, Principal, Role, User
from soc_api.auth.permissions import require_triager
from soc_api.errors import ConflictError, InvalidRequestError

log = logging.getLogger(__name__)

MAX_NOTE = 20_000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def allowed_transitions(alert: Alert) -> list[AlertStatus]:
    return sorted(TRANSITIONS[AlertStatus(alert.status)], key=list(AlertStatus).index)


def _transition(alert: Alert, change: AlertUpdate) -> None:
    assert change.status is not None
    current = AlertStatus(alert.status)
    if change.status is current:
        if current is AlertStatus.CLOSED and change.close_reason:
            alert.close_reason = change.close_reason.value
        return
    if change.status not in TRANSITIONS[current]:
        raise ConflictError(
            f"alert {alert.id} is {current.value}: it cannot become {change.status.value}"
        )
    if change.status is AlertStatus.CLOSED:
        if change.close_reason is None:
            raise InvalidRequestError(
                "closing an alert needs a close_reason: true_positive, false_positive, "
                "benign or duplicate"
            )
        alert.close_reason = change.close_reason.value
        alert.closed_at = _now()
    else:
        alert.close_reason = alert.closed_at = None
    alert.status = change.status.value


def _check_assignee(session: Session, alert: Alert, username: str) -> None:
    """One answer for every refusal: whether the user exists, or which agency it belongs to,
    is not the caller's to learn."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if (
        user is None
        or not user.active
        or Role(user.role) not in TRIAGERS
        or (Role(user.role) is Role.AGENCY_ANALYST and user.agency != alert.agency)
    ):
        raise InvalidRequestError(f"{username[:64]!r} cannot take alerts of agency {alert.agency}")


def apply_update(session: Session, alert: Alert, change: AlertUpdate, who: Principal) -> None:
    """Apply one change to an alert the caller may see; audit it."""
    if change.close_reason is not None and change.status not in (None, AlertStatus.CLOSED):
        raise InvalidRequestError("close_reason goes with status closed")
    before = {"status": alert.status, "assignee": alert.assignee}
    if change.close_reason is not None and change.status is None:
        change = change.model_copy(update={"status": AlertStatus.CLOSED})
    if change.assignee:  # checked first: a refused change leaves the alert untouched
        _check_assignee(session, alert, change.assignee)
    if change.status is not None:
        _transition(alert, change)
    if change.assignee is not None:
        alert.assignee = change.assignee or None
    if change.note:
        entry = f"[{_now()} {who.actor}] {change.note.strip()}"
        alert.note = (alert.note + "\n" + entry).strip()[-MAX_NOTE:]
    detail = {
        "before": before,
        "after": {"status": alert.status, "assignee": alert.assignee},
        "close_reason": alert.close_reason,
        "note": change.note or None,
    }
    audit.append(
        session,
        actor=who.actor,
        action="alert.update",
        object_type="alert",
        object_id=alert.id,
        agency=alert.agency,
        detail=detail,
    )


def update_alert(session: Session, *, alert_id: int, change: AlertUpdate, who: Principal) -> Alert:
    require_triager(who)
    alert = get_alert(session, alert_id=alert_id, who=who)
    apply_update(session, alert, change, who)
    session.flush()
    log.info("alert %d updated by %s: status %s", alert.id, who.actor, alert.status)
    return alert


def bulk_update(
    session: Session, *, alert_ids: Sequence[int], change: AlertUpdate, who: Principal
) -> BulkResult:
    """Apply one change to many alerts; each one that cannot take it is reported, not fatal.

    A refused change raises before touching its alert, so the others go through.
    """
    require_triager(who)
    updated: list[int] = []
    failed: dict[int, str] = {}
    for alert_id in dict.fromkeys(alert_ids):
        try:
            alert = get_alert(session, alert_id=alert_id, who=who)
            apply_update(session, alert, change, who)
            updated.append(alert_id)
        except CitysocError as exc:
            failed[alert_id] = exc.message
    return BulkResult(updated=updated, failed=failed)
