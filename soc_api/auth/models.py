"""Users and roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class Role(enum.StrEnum):
    CITY_ANALYST = "city_analyst"  # every agency
    AGENCY_ANALYST = "agency_analyst"  # own agency only
    AUDITOR = "auditor"  # read-only, reports
    OPS = "ops"  # rules, release gate
    ADMIN = "admin"


CITY_WIDE = {Role.CITY_ANALYST, Role.AUDITOR, Role.ADMIN}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the services see it."""

    user_id: int
    username: str
    role: Role
    agency: str | None

    @property
    def agencies(self) -> list[str] | None:
        """Agencies whose data this caller may see; ``None`` means all of them."""
        if self.role in CITY_WIDE:
            return None
        return [self.agency] if self.agency else []
