"""Recorded releases and promotions (tables), and how the API shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class Release(Base):
    """One analytics bundle with the gate's signed decision about it."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citysoc_version: Mapped[str] = mapped_column(String(32))
    created: Mapped[str] = mapped_column(String(40))
    passed: Mapped[bool]
    key_id: Mapped[str] = mapped_column(String(32))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[str] = mapped_column(String(32))
    recorded_by: Mapped[str] = mapped_column(String(96))


class ReleasePromotion(Base):
    """A release made the deployed one: by a promotion, or by rolling back to it."""

    __tablename__ = "release_promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "promote" or "rollback"
    actor: Mapped[str] = mapped_column(String(96))
    at: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class ReleaseUpload(BaseModel):
    """What ``citysoc release build`` and ``gate`` wrote: ``manifest.json`` and
    ``decision.json`` of one bundle."""

    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any]
    decision: dict[str, Any]


class PromotionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class CheckOutcome(BaseModel):
    name: str
    passed: bool
    detail: str
    failures: list[str]


class ReleasePublic(BaseModel):
    id: int
    version: str
    content_hash: str
    citysoc_version: str
    created: str
    passed: bool
    key_id: str
    recorded_at: str
    recorded_by: str
    deployed: bool
    checks: list[CheckOutcome]
    added: list[str]
    removed: list[str]
    changed: list[str]
    newly_failing: list[str]  # failures of this release's gate that its predecessor passed


class PromotionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    release_id: int
    action: str
    actor: str
    at: str
    note: str


class ReleaseHistory(BaseModel):
    deployed: int | None
    items: list[ReleasePublic]
    promotions: list[PromotionPublic]
