"""Open and work cases; every change is a timeline step, an audit entry and a notification,
in the transaction of the change itself.

A case opened from an incident takes all its alerts (each alert is in one case at most), so
however the alerts later regroup, the case keeps them; notes and assignments analysts left on
the incident (anchored on its alerts) are carried into the case as comments and its owner.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.ecs import timestamp
from citysoc.core.errors import NotFoundError, PermissionDeniedError
from soc_api.alerts.models import SEVERITY_RISK, Alert
from soc_api.alerts.queries import get_alert
from soc_api.audit import service as audit
from soc_api.auth.models import TRIAGERS, Principal, Role, User
from soc_api.auth.permissions import require_triager
from soc_api.cases.access import alert_counts, load_case, manageable, sees
from soc_api.cases.models import (
    CASE_TRANSITIONS,
    Case,
    CaseAlert,
    CaseComment,
    CaseEvent,
    CaseStatus,
    CaseTask,
)
from soc_api.cases.schemas import CaseOpen, CaseUpdate, CommentCreate, TaskCreate
from soc_api.errors import ConflictError, InvalidRequestError
from soc_api.incidents.models import IncidentNote
from soc_api.incidents.service import get_incident, list_incidents
from soc_api.notifications.outbox import CITY, Outbox

log = logging.getLogger(__name__)

# The incident as a whole, whoever opens the case: the SOC's own view, used only to find the
# incident's alerts once the caller is known to see it.
SYSTEM = Principal(user_id=0, username="system", role=Role.CITY_ANALYST, agency=None)


def _now() -> str:
    return timestamp(time.time())


class Changes:
    """Records the steps of one request on a case: timeline, audit chain, outbox."""

    def __init__(
        self,
        session: Session,
        case: Case,
        agencies: Mapping[str, int],
        who: Principal,
        outbox: Outbox,
    ) -> None:
        self.session, self.case, self.agencies = session, case, dict(agencies)
        self.who, self.outbox = who, outbox

    def step(self, action: str, part: str | None, **detail: Any) -> None:
        """``part``: None for the whole case, an agency, or ``CITY`` for the SOC's own."""
        self.case.updated_at = _now()
        self.session.add(
            CaseEvent(
                case_id=self.case.id,
                at=self.case.updated_at,
                actor=self.who.actor,
                action=action,
                agency=part,
                detail=detail,
            )
        )
        sole = next(iter(self.agencies)) if len(self.agencies) == 1 else None
        audit.append(
            self.session,
            actor=self.who.actor,
            action=f"case.{action}",
            object_type="case",
            object_id=self.case.id,
            agency=part or sole,
            detail={"part": part, **detail},
        )
        summary = {
            "id": self.case.id,
            "title": self.case.title,
            "status": self.case.status,
            "severity": self.case.severity,
            "owner": self.case.owner,
        }
        self.outbox.case_changed(
            self.session,
            case=summary,
            agencies=self.agencies,
            action=action,
            part=part,
            actor=self.who.actor,
            detail=detail,
        )


def _check_owner(session: Session, username: str, agencies: Mapping[str, int]) -> None:
    """An owner is an active analyst; an agency analyst only of a case that is their agency's
    alone. One answer for every refusal (who exists is not the caller's to learn)."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if (
        user is None
        or not user.active
        or Role(user.role) not in TRIAGERS
        or (Role(user.role) is Role.AGENCY_ANALYST and set(agencies) != {user.agency})
    ):
        raise InvalidRequestError(f"{username[:64]!r} cannot own this case")


def _default_title(alerts: Sequence[Alert]) -> str:
    """The actor and the most severe step, without naming agencies: every agency on the case
    reads its title."""
    top = max(alerts, key=lambda a: (SEVERITY_RISK.get(a.severity, 0), -a.id))
    actor = next((a.attacker for a in alerts if a.attacker), None)
    who = (actor.partition(":")[2] or actor) if actor else "No attacker named"
    more = f" (+{len(alerts) - 1} alerts)" if len(alerts) > 1 else ""
    return f"{who}: {top.title}{more}"[:256]


def _incident_alerts(
    session: Session, incident_id: int, who: Principal, window: timedelta
) -> list[Alert]:
    get_incident(session, incident_id=incident_id, who=who, window=window)  # 404 unless seen
    whole = get_incident(session, incident_id=incident_id, who=SYSTEM, window=window)
    ids = [a.id for a in whole.alerts]
    return list(session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)))


def _link(changes: Changes, alerts: Sequence[Alert]) -> list[int]:
    """Link alerts not yet in any case; refuse one in another case (409)."""
    session, case = changes.session, changes.case
    ids = [a.id for a in alerts]
    held = {
        row.alert_id: row.case_id
        for row in session.scalars(select(CaseAlert).where(CaseAlert.alert_id.in_(ids)))
    }
    elsewhere = {a: c for a, c in held.items() if c != case.id}
    if elsewhere:
        alert_id, case_id = min(elsewhere.items())
        raise ConflictError(f"alert {alert_id} is already in case {case_id}")
    fresh = [a for a in alerts if a.id not in held]
    now = _now()
    per_agency: dict[str, list[int]] = {}
    for alert in fresh:
        session.add(
            CaseAlert(
                case_id=case.id,
                alert_id=alert.id,
                agency=alert.agency,
                linked_by=changes.who.actor,
                linked_at=now,
            )
        )
        per_agency.setdefault(alert.agency, []).append(alert.id)
    session.flush()
    changes.agencies = alert_counts(session, [case.id])[case.id]
    for agency, linked in sorted(per_agency.items()):
        changes.step("alerts_linked", agency, alerts=linked)
    return [a.id for a in fresh]


def _carry_notes(changes: Changes) -> int:
    """Notes and assignments left on the case's alerts (as incident notes) become comments of
    the alert's agency; the latest assignment becomes the owner if the case has none."""
    session, case = changes.session, changes.case
    carried = select(CaseComment.note_id).where(CaseComment.note_id.is_not(None))
    rows = session.execute(
        select(IncidentNote, CaseAlert.agency)
        .join(CaseAlert, CaseAlert.alert_id == IncidentNote.alert_id)
        .where(CaseAlert.case_id == case.id, IncidentNote.id.not_in(carried))
        .order_by(IncidentNote.id)
    ).all()
    assignee = None
    for note, agency in rows:
        body = note.note or f"→ {note.assignee or '-'}"
        session.add(
            CaseComment(
                case_id=case.id,
                agency=agency,
                author=note.author,
                body=body,
                created_at=note.created_at,
                note_id=note.id,
            )
        )
        changes.step("note_carried", agency, note=note.id, author=note.author)
        if note.assignee is not None:
            assignee = note.assignee or None
    if assignee and case.owner is None:
        try:
            _check_owner(session, assignee, changes.agencies)
        except InvalidRequestError:
            log.info(
                "case %d: note assignee %r cannot own it; kept as a comment", case.id, assignee
            )
        else:
            case.owner = assignee
            changes.step("owner", None, before=None, after=assignee, source="incident notes")
    return len(rows)


def open_case(
    session: Session, *, who: Principal, data: CaseOpen, window: timedelta, outbox: Outbox
) -> Case:
    """Open a case from an incident the caller sees (all its alerts), or from alerts."""
    require_triager(who)
    if data.incident_id is not None:
        alerts = _incident_alerts(session, data.incident_id, who, window)
    else:
        alerts = [get_alert(session, alert_id=i, who=who) for i in dict.fromkeys(data.alert_ids)]
    taken = session.scalars(
        select(CaseAlert).where(CaseAlert.alert_id.in_([a.id for a in alerts]))
    ).first()
    if taken is not None:
        raise ConflictError(f"alert {taken.alert_id} is already in case {taken.case_id}")
    if data.owner:
        _check_owner(session, data.owner, {a.agency: 1 for a in alerts})
    now = _now()
    severity = (
        data.severity.value
        if data.severity
        else max((a.severity for a in alerts), key=lambda s: SEVERITY_RISK.get(s, 0))
    )
    case = Case(
        title=data.title or _default_title(alerts),
        status=CaseStatus.NEW.value,
        severity=severity,
        owner=data.owner,
        opened_from=data.incident_id,
        created_by=who.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    changes = Changes(session, case, Counter(a.agency for a in alerts), who, outbox)
    changes.step(
        "opened",
        None,
        alerts=len(alerts),
        agencies=len(changes.agencies),
        incident=data.incident_id,
    )
    _link(changes, alerts)
    _carry_notes(changes)
    log.info("case %d opened by %s with %d alerts", case.id, who.actor, len(alerts))
    return case


def update_case(
    session: Session, *, case_id: int, who: Principal, change: CaseUpdate, outbox: Outbox
) -> Case:
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    if not manageable(who, agencies):
        raise PermissionDeniedError(
            "a case shared by several agencies is the city SOC's to change: add a task or a "
            "comment to your agency's part"
        )
    fields = change.model_dump(exclude_none=True)
    if not fields:
        raise InvalidRequestError("give a status, severity, owner or title to change")
    if change.close_reason is not None and change.status not in (None, CaseStatus.CLOSED):
        raise InvalidRequestError("close_reason goes with status closed")
    status = change.status or (CaseStatus.CLOSED if change.close_reason else None)
    if change.owner:
        _check_owner(session, change.owner, agencies)
    changes = Changes(session, case, agencies, who, outbox)
    if status is not None and status.value != case.status:
        if status not in CASE_TRANSITIONS[CaseStatus(case.status)]:
            raise ConflictError(f"case {case.id} is {case.status}: it cannot become {status}")
        if status is CaseStatus.CLOSED and change.close_reason is None:
            raise InvalidRequestError(
                "closing a case needs a close_reason: true_positive, false_positive, benign or "
                "duplicate"
            )
        before, case.status = case.status, status.value
        case.close_reason = change.close_reason.value if change.close_reason else None
        changes.step(
            "status", None, before=before, after=case.status, close_reason=case.close_reason
        )
    for name in ("severity", "owner", "title"):
        value = getattr(change, name)
        value = value.value if hasattr(value, "value") else value
        if value is None or (value or None) == getattr(case, name):
            continue
        before = getattr(case, name)
        setattr(case, name, value or None)
        changes.step(name, None, before=before, after=value or None)
    session.flush()
    return case


def _part(who: Principal, agencies: Mapping[str, int], asked: str | None) -> str | None:
    """Where a task or comment goes: an agency analyst's own part; for the city SOC, the agency
    asked for, else the case's one agency, else the SOC's own part (``None``)."""
    if who.agencies is not None:
        if asked is not None and asked not in who.agencies:
            raise PermissionDeniedError("an agency analyst writes in their own agency's part")
        return next(a for a in who.agencies if a in agencies)
    if asked is None:
        return next(iter(agencies)) if len(agencies) == 1 else None
    if asked not in agencies:
        raise InvalidRequestError(f"agency {asked!r} has no alerts in this case")
    return asked


def add_task(
    session: Session, *, case_id: int, who: Principal, data: TaskCreate, outbox: Outbox
) -> CaseTask:
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    part = _part(who, agencies, data.agency)
    task = CaseTask(
        case_id=case.id,
        agency=part,
        title=data.title.strip() or data.title,
        done=False,
        created_by=who.actor,
        created_at=_now(),
    )
    session.add(task)
    session.flush()
    Changes(session, case, agencies, who, outbox).step(
        "task_added", part or CITY, task=task.id, title=task.title
    )
    return task


def set_task(
    session: Session, *, case_id: int, task_id: int, who: Principal, done: bool, outbox: Outbox
) -> CaseTask:
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    task = session.get(CaseTask, task_id)
    if task is None or task.case_id != case.id or not sees(who, task.agency):
        raise NotFoundError(f"no task {task_id} in case {case_id}")
    if task.done != done:
        task.done = done
        task.done_by, task.done_at = (who.actor, _now()) if done else (None, None)
        Changes(session, case, agencies, who, outbox).step(
            "task_done" if done else "task_reopened",
            task.agency or CITY,
            task=task.id,
            title=task.title,
        )
    session.flush()
    return task


def add_comment(
    session: Session, *, case_id: int, who: Principal, data: CommentCreate, outbox: Outbox
) -> CaseComment:
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    body = data.body.strip()
    if not body:
        raise InvalidRequestError("a comment needs some text")
    part = _part(who, agencies, data.agency)
    comment = CaseComment(
        case_id=case.id, agency=part, author=who.actor, body=body, created_at=_now()
    )
    session.add(comment)
    session.flush()
    Changes(session, case, agencies, who, outbox).step(
        "comment", part or CITY, comment=comment.id, text=body[:500]
    )
    return comment


def link_alerts(
    session: Session, *, case_id: int, who: Principal, alert_ids: Sequence[int], outbox: Outbox
) -> list[int]:
    """Add alerts the caller sees to a case; an alert in another case is refused (409)."""
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    alerts = [get_alert(session, alert_id=i, who=who) for i in dict.fromkeys(alert_ids)]
    return _link(Changes(session, case, agencies, who, outbox), alerts)


def sync_case(
    session: Session, *, case_id: int, who: Principal, window: timedelta, outbox: Outbox
) -> tuple[list[int], int]:
    """Take into the case the alerts that joined its incidents since (those in no other case)
    and the notes left on its alerts since. Returns the alerts linked and notes carried."""
    require_triager(who)
    case, agencies = load_case(session, case_id, who)
    held = set(session.scalars(select(CaseAlert.alert_id).where(CaseAlert.case_id == case.id)))
    grown: set[int] = set()
    for incident in list_incidents(session, who=SYSTEM, window=window):
        ids = {a.id for a in incident.alerts}
        if ids & held:
            grown |= ids - held
    taken = set(session.scalars(select(CaseAlert.alert_id).where(CaseAlert.alert_id.in_(grown))))
    fresh = list(session.scalars(select(Alert).where(Alert.id.in_(grown - taken))))
    changes = Changes(session, case, agencies, who, outbox)
    linked = _link(changes, fresh) if fresh else []
    return linked, _carry_notes(changes)
