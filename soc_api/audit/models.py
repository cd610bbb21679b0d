"""The audit table: append-only rows, each hash covering its content and the previous hash."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("audit_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    agency: str | None
    detail: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    total: int
    items: list[AuditPublic]


class ChainReport(BaseModel):
    entries: int
    intact: bool
    first_broken_id: int | None = None
    problem: str | None = None
