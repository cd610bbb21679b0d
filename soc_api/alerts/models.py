"""Alert table and the shapes alerts take across the API boundary."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

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


SEVERITY_RISK = {"informational": 5, "low": 21, "medium": 47, "high": 73, "critical": 99}


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("alerts_agency_status", "agency", "status"),
        Index("alerts_dedup", "dedup_key", "status"),
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


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


class AlertPage(BaseModel):
    total: int
    items: list[AlertPublic]
