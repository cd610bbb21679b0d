"""Who sees what of a case, and the case as one caller sees it.

A caller sees a case when it holds an alert of one of the caller's agencies (the city SOC sees
every case). Within it, alerts, tasks, comments and timeline steps belong to a part: an
agency's, or the city SOC's own (no agency). An agency analyst sees their agency's part and
the steps of the whole case (status, severity, owner, title); of the others, counts only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysoc.core.errors import NotFoundError
from citysoc.core.topology import Topology
from soc_api.alerts.models import Alert
from soc_api.alerts.visibility import visible_alerts
from soc_api.auth.models import TRIAGERS, Principal
from soc_api.auth.permissions import require_reader
from soc_api.cases.models import (
    CASE_TRANSITIONS,
    Case,
    CaseAlert,
    CaseComment,
    CaseEvent,
    CaseStatus,
    CaseTask,
)
from soc_api.cases.schemas import (
    CaseEventPublic,
    CasePublic,
    CaseSummary,
    CommentPublic,
    TaskPublic,
)


def alert_counts(session: Session, case_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Each case's alerts per agency."""
    found: dict[int, dict[str, int]] = {i: {} for i in case_ids}
    query = (
        select(CaseAlert.case_id, CaseAlert.agency, func.count())
        .where(CaseAlert.case_id.in_(case_ids))
        .group_by(CaseAlert.case_id, CaseAlert.agency)
    )
    for case_id, agency, count in session.execute(query):
        found[case_id][agency] = count
    return found


def load_case(session: Session, case_id: int, who: Principal) -> tuple[Case, dict[str, int]]:
    """The case and its alerts per agency, if ``who`` has a part in it (else 404, as if it did
    not exist)."""
    require_reader(who)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case {case_id}")
    agencies = alert_counts(session, [case_id])[case_id]
    if who.agencies is not None and not set(who.agencies) & set(agencies):
        raise NotFoundError(f"no case {case_id}")
    return case, agencies


def sees(who: Principal, part: str | None) -> bool:
    """May ``who`` read a task or comment of this part (``None``/"": the city SOC's own)?"""
    return who.agencies is None or (bool(part) and part in who.agencies)


def sees_step(who: Principal, part: str | None) -> bool:
    """Timeline steps without a part are the whole case's: everyone on the case reads them."""
    return part is None or sees(who, part)


def manageable(who: Principal, agencies: Mapping[str, int]) -> bool:
    """The whole case (status, severity, owner, title) is the city SOC's to change, or an
    agency's when the case is its alone."""
    if who.token_scope is not None or who.role not in TRIAGERS:
        return False
    return who.agencies is None or set(agencies) <= set(who.agencies)


def view(
    session: Session,
    case: Case,
    agencies: Mapping[str, int],
    who: Principal,
    *,
    topology: Topology,
) -> CasePublic:
    mine = sorted(a for a in agencies if who.agencies is None or a in who.agencies)
    alerts = session.scalars(
        select(Alert)
        .join(CaseAlert, CaseAlert.alert_id == Alert.id)
        .where(CaseAlert.case_id == case.id, CaseAlert.agency.in_(mine))
        .order_by(Alert.first_seen, Alert.id)
    ).all()
    tasks = session.scalars(
        select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.id)
    ).all()
    comments = session.scalars(
        select(CaseComment).where(CaseComment.case_id == case.id).order_by(CaseComment.id)
    ).all()
    steps = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    status = CaseStatus(case.status)
    return CasePublic(
        id=case.id,
        title=case.title,
        status=status,
        severity=case.severity,
        owner=case.owner,
        close_reason=case.close_reason,
        opened_from=case.opened_from,
        created_by=case.created_by,
        created_at=case.created_at,
        updated_at=case.updated_at,
        agencies=mine,
        other_agencies=len(agencies) - len(mine),
        other_alerts=sum(agencies.values()) - len(alerts),
        other_tasks=sum(1 for t in tasks if not sees(who, t.agency)),
        other_comments=sum(1 for c in comments if not sees(who, c.agency)),
        alerts=visible_alerts(alerts, who=who, topology=topology),
        tasks=[TaskPublic.model_validate(t) for t in tasks if sees(who, t.agency)],
        comments=[CommentPublic.model_validate(c) for c in comments if sees(who, c.agency)],
        timeline=[CaseEventPublic.model_validate(s) for s in steps if sees_step(who, s.agency)],
        allowed_transitions=sorted(CASE_TRANSITIONS[status], key=list(CaseStatus).index),
        manageable=manageable(who, agencies),
    )


def list_cases(
    session: Session,
    *,
    who: Principal,
    status: CaseStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[CaseSummary]]:
    """Cases the caller has a part in, most recently changed first."""
    require_reader(who)
    query = select(Case)
    if who.agencies is not None:
        query = query.where(
            Case.id.in_(select(CaseAlert.case_id).where(CaseAlert.agency.in_(who.agencies)))
        )
    if status is not None:
        query = query.where(Case.status == status.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    cases = session.scalars(
        query.order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit).offset(offset)
    ).all()
    counts = alert_counts(session, [c.id for c in cases])
    open_tasks: dict[int, list[str | None]] = {}
    for case_id, agency in session.execute(
        select(CaseTask.case_id, CaseTask.agency).where(
            CaseTask.case_id.in_([c.id for c in cases]), CaseTask.done.is_(False)
        )
    ):
        open_tasks.setdefault(case_id, []).append(agency)
    items = []
    for case in cases:
        agencies = counts[case.id]
        mine = sorted(a for a in agencies if who.agencies is None or a in who.agencies)
        items.append(
            CaseSummary(
                id=case.id,
                title=case.title,
                status=CaseStatus(case.status),
                severity=case.severity,
                owner=case.owner,
                agencies=mine,
                other_agencies=len(agencies) - len(mine),
                alert_count=sum(agencies[a] for a in mine),
                open_tasks=sum(1 for p in open_tasks.get(case.id, ()) if sees(who, p)),
                updated_at=case.updated_at,
            )
        )
    return int(total), items
