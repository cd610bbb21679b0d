"""Alert table and the shapes alerts take across the API boundary."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    delete,
    event,
    func,
    insert,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from soc_api.alerts.entity_keys import ROLES, entity_rows
from soc_api.db import Base


class AlertStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Severity(enum.StrEnum):
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class CloseReason(enum.StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"


class SortKey(enum.StrEnum):
    RISK = "risk"
    NEWEST = "newest"
    OLDEST = "oldest"
    SEVERITY = "severity"


# Which status may follow which: the triage workflow, forward only (closed can be reopened).
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.NEW: frozenset(
        {AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS, AlertStatus.CLOSED}
    ),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.IN_PROGRESS, AlertStatus.CLOSED}),
    AlertStatus.IN_PROGRESS: frozenset({AlertStatus.CLOSED}),
    AlertStatus.CLOSED: frozenset({AlertStatus.IN_PROGRESS}),
}

SEVERITY_RISK = {"informational": 5, "low": 21, "medium": 47, "high": 73, "critical": 99}


def severity_rank_sql(column: str = "severity") -> str:
    """The severity's rank as SQL, exactly as the indexes of migration 0010 write it (an index
    on an expression serves only queries that write the same expression)."""
    whens = " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in SEVERITY_RISK.items())
    return f"CASE {column} {whens} ELSE 0 END"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("alerts_agency_status", "agency", "status"),
        Index("alerts_dedup", "dedup_key", "status"),
        Index("alerts_risk_seen", "risk_score", "last_seen"),
        Index("alerts_last_seen", "last_seen"),
        Index("alerts_attacker", "attacker", "last_seen"),
        # migration 0009: the queue's filters in its order, and the incidents' change check
        Index("alerts_updated_at", "updated_at"),
        Index("alerts_agency_risk", "agency", "risk_score", "last_seen", "id"),
        Index("alerts_status_severity_seen", "status", "severity", "last_seen", "id"),
        Index("alerts_rule_seen", "rule_name", "last_seen", "id"),
        Index("alerts_assignee_status_risk", "assignee", "status", "risk_score", "last_seen", "id"),
        # migration 0010: the severity order
        Index("alerts_severity_rank", text(f"({severity_rank_sql()})"), "last_seen", "id"),
        Index(
            "alerts_agency_severity_rank",
            "agency",
            text(f"({severity_rank_sql()})"),
            "last_seen",
            "id",
        ),
        # migration 0014: a keyword's test (a bare value's part on rule names); the titles'
        # trigram index is the migration's alone (an FTS5 table on SQLite, pg_trgm's GIN)
        Index("alerts_rule_name_lower", text("lower(rule_name)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_name: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256))
    severity: Mapped[str] = mapped_column(String(16))
    risk_score: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.NEW.value)
    agency: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str] = mapped_column(String(32))
    security_level: Mapped[int | None]
    entity: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedup_key: Mapped[str] = mapped_column(String(512))
    event_ids: Mapped[list[str]] = mapped_column(JSON)
    event_count: Mapped[int]
    first_seen: Mapped[str] = mapped_column(String(32))
    last_seen: Mapped[str] = mapped_column(String(32))
    runbook: Mapped[str] = mapped_column(String(128), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(64), default=None)
    close_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    closed_at: Mapped[str | None] = mapped_column(String(32), default=None)
    observables: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Entity roles: who acted (``ip:…``, ``user:…``), whom it reached (capped list, full count),
    # hosts that only relayed it (resolvers, collectors, sensors, routers), tool fingerprints.
    attacker: Mapped[str | None] = mapped_column(String(128), default=None)
    targets: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    target_count: Mapped[int] = mapped_column(default=0, server_default="0")
    infrastructure: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    fingerprints: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    tactic: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Other rules that saw the same activity of the same attacker, folded into this alert.
    also_rules: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AlertEntity(Base):
    """One key of one entity an alert names (``soc_api.alerts.entity_keys``): the search
    language's entity look-ups read this table's index instead of every alert's lists. Kept
    by :func:`_index_entities` with every flush of alerts; migration 0012."""

    __tablename__ = "alert_entities"
    __table_args__ = (Index("alert_entities_value", "value", "role", "whole", "alert_id"),)

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    whole: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    value: Mapped[str] = mapped_column(
        Text().with_variant(Text(collation="C"), "postgresql"), primary_key=True
    )


@event.listens_for(Session, "after_flush")
def _index_entities(session: Session, _context: UOWTransaction) -> None:
    """Write the entity rows of the alerts this flush inserted, and rewrite those of the
    roles an update changed (a fold's new targets). Deleting an alert deletes its rows (the
    foreign key). Statements that write alerts' entity columns outside the unit of work
    (``update(Alert)``) must rewrite the rows themselves."""
    rows: list[dict[str, object]] = []
    stale: list[tuple[int, str]] = []
    for obj in session.new:
        if isinstance(obj, Alert):
            state = inspect(obj).dict
            rows += [r for role in ROLES for r in entity_rows(obj.id, role, state.get(role))]
    for obj in session.dirty:
        if isinstance(obj, Alert):
            attrs = inspect(obj).attrs
            for role in ROLES:
                if attrs[role].history.has_changes():
                    stale.append((obj.id, role))
                    rows += entity_rows(obj.id, role, attrs[role].value)
    if not rows and not stale:
        return
    conn = session.connection()
    for alert_id, role in stale:
        conn.execute(
            delete(AlertEntity).where(AlertEntity.alert_id == alert_id, AlertEntity.role == role)
        )
    for start in range(0, len(rows), 5000):
        conn.execute(insert(AlertEntity), rows[start : start + 5000])


class AlertPublic(BaseModel):
    """An alert as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    rule_name: str
    title: str
    severity: str
    risk_score: int
    status: str
    agency: str
    segment: str
    security_level: int | None
    entity: dict[str, Any]
    event_count: int
    first_seen: str
    last_seen: str
    runbook: str
    tags: list[str]
    note: str
    assignee: str | None
    close_reason: str | None
    closed_at: str | None
    observables: list[str]
    attacker: str | None = None
    targets: list[str] = []
    target_count: int = 0
    infrastructure: list[str] = []
    fingerprints: list[str] = []
    tactic: str = ""
    also_rules: list[str] = []


class AlertPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AlertPublic]


class AlertDetail(BaseModel):
    """One alert with its evidence events and its runbook rendered for it."""

    alert: AlertPublic
    evidence: list[dict[str, Any]]
    evidence_withheld: int = 0  # events of agencies the caller may not read
    runbook_markdown: str
    allowed_transitions: list[AlertStatus]


class AlertUpdate(BaseModel):
    """A triage step: a new status (closing needs a reason), a note, an assignee."""

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    close_reason: CloseReason | None = None
    note: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, max_length=64)


class AlertBulkUpdate(AlertUpdate):
    ids: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(min_length=1, max_length=500)


class BulkResult(BaseModel):
    updated: list[int]
    failed: dict[int, str]


class AlertFilter(BaseModel):
    """Query filters of the alert list (all optional)."""

    status: AlertStatus | None = None
    severity: Severity | None = None
    rule: str | None = Field(default=None, max_length=128)
    agency: str | None = Field(default=None, max_length=32)
    assignee: str | None = Field(default=None, max_length=64)
    q: str | None = Field(
        default=None,
        max_length=2000,
        description="A query in the search language: `field:value`, AND/OR/NOT, ranges, "
        "networks, wildcards; a bare value searches title, rule and entities (docs/console.md)",
    )
    segment: str | None = Field(default=None, max_length=32)
    attacker: str | None = Field(
        default=None, max_length=128, description="The acting entity, e.g. ip:203.0.113.7"
    )
    since: datetime | None = Field(default=None, description="First seen at or after (UTC)")
    until: datetime | None = Field(default=None, description="First seen before (UTC)")
    sort: SortKey = SortKey.RISK
