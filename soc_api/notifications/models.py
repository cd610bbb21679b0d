"""The notification outbox: one row per item and recipient, kept with its delivery attempts."""

from __future__ import annotations

import enum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class Channel(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not yet tried, or failed and waiting for its next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed; given up


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(32))  # alert.critical, case.status, ...
    agency: Mapped[str | None] = mapped_column(String(32))  # whose recipient: None, the city's
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(256))  # the URL or the address
    subject: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")  # the e-mail's text
    status: Mapped[str] = mapped_column(String(12), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[str] = mapped_column(String(32))
    last_error: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[str] = mapped_column(String(32))
    delivered_at: Mapped[str | None] = mapped_column(String(32), default=None)


class NotificationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    agency: str | None
    channel: Channel
    target: str
    subject: str
    language: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str
    last_error: str
    created_at: str
    delivered_at: str | None

    @field_validator("target")
    @classmethod
    def _shown(cls, target: str) -> str:
        """A URL is shown without credentials, query or fragment (where tokens may hide)."""
        if "://" not in target:
            return target
        parts = urlsplit(target)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class NotificationPage(BaseModel):
    total: int
    failed: int  # deliveries given up, among those the caller may see
    pending: int
    items: list[NotificationPublic]
