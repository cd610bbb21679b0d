"""Case tables. A case holds alerts (each alert in at most one case), tasks and comments that
belong to one agency's part (or to the city SOC's own, ``agency`` empty), and a timeline of
every change.

Cases are stored, incidents are computed: a case is tied to its alerts, never to an
incident's number, so however the alerts regroup, the case, its owner and its comments stay.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class CaseStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CONTAINED = "contained"
    CLOSED = "closed"


# Forward along the response, or straight to closed (a false alarm); a closed case reopens.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CONTAINED, CaseStatus.CLOSED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.CONTAINED, CaseStatus.CLOSED}),
    CaseStatus.CONTAINED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset({CaseStatus.IN_PROGRESS}),
}


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("cases_status_updated", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.NEW.value)
    severity: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    close_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    opened_from: Mapped[int | None] = mapped_column(default=None)  # the incident's number then
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class CaseAlert(Base):
    __tablename__ = "case_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), unique=True)
    agency: Mapped[str] = mapped_column(String(32))
    linked_by: Mapped[str] = mapped_column(String(96))
    linked_at: Mapped[str] = mapped_column(String(32))


class CaseTask(Base):
    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str | None] = mapped_column(String(32), default=None)
    title: Mapped[str] = mapped_column(String(256))
    done: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[str] = mapped_column(String(32))
    done_by: Mapped[str | None] = mapped_column(String(96), default=None)
    done_at: Mapped[str | None] = mapped_column(String(32), default=None)


class CaseComment(Base):
    __tablename__ = "case_comments"
    __table_args__ = (UniqueConstraint("note_id", name="case_comments_note"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str | None] = mapped_column(String(32), default=None)
    author: Mapped[str] = mapped_column(String(96))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))
    # the incident note (anchored on an alert of the case) this comment carries over, if any
    note_id: Mapped[int | None] = mapped_column(ForeignKey("incident_notes.id"), default=None)


class CaseEvent(Base):
    """One change of a case, in order. ``agency`` set: that agency's part only."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
