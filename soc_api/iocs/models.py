"""IOC table and its API shapes."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class Tlp(enum.StrEnum):
    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


class IocKind(enum.StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    URL = "url"
    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"
    USER = "user"


class Ioc(Base):
    __tablename__ = "iocs"
    __table_args__ = (
        UniqueConstraint("kind", "value", "owner_agency", name="iocs_unique_value"),
        Index("iocs_value", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    tlp: Mapped[str] = mapped_column(String(16))
    owner_agency: Mapped[str | None] = mapped_column(String(32))  # None: the city SOC
    # AMBER: the agencies it is shared with, stored ",d1,tanbinh," so SQL can test membership.
    audience: Mapped[str] = mapped_column(String(512), default="")
    severity: Mapped[str] = mapped_column(String(16), default="high")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(128), default="manual")
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)


def join_audience(agencies: list[str]) -> str:
    return "," + ",".join(sorted(set(agencies))) + "," if agencies else ""


def split_audience(stored: str) -> list[str]:
    return [a for a in stored.split(",") if a]


class IocCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IocKind
    value: str = Field(min_length=1, max_length=512)
    tlp: Tlp = Tlp.AMBER
    audience: list[str] = Field(default_factory=list, max_length=50)
    severity: str = Field(default="high", pattern="^(informational|low|medium|high|critical)$")
    description: str = Field(default="", max_length=2000)


class IocPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    value: str
    tlp: str
    owner_agency: str | None
    audience: list[str]
    severity: str
    description: str
    source: str
    created_at: str
    active: bool

    @field_validator("audience", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_audience(value) if isinstance(value, str) else value


class IocPage(BaseModel):
    total: int
    items: list[IocPublic]


class ImportReport(BaseModel):
    created: int
    duplicates: int
    rejected: int
    errors: list[dict[str, Any]]
