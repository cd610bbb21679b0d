"""Users and roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.db import Base


class Role(enum.StrEnum):
    CITY_ANALYST = "city_analyst"  # every agency
    AGENCY_ANALYST = "agency_analyst"  # own agency only
    AUDITOR = "auditor"  # read-only, reports
    OPS = "ops"  # rules, release gate
    ADMIN = "admin"


CITY_WIDE = {Role.CITY_ANALYST, Role.AUDITOR, Role.ADMIN}
READERS = {Role.CITY_ANALYST, Role.AGENCY_ANALYST, Role.AUDITOR, Role.ADMIN}
TRIAGERS = {Role.CITY_ANALYST, Role.AGENCY_ANALYST, Role.ADMIN}


class TokenScope(enum.StrEnum):
    INGEST = "ingest"  # a collector posting events
    READ = "read"  # a machine reading alerts, incidents and IOCs


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)


class ApiToken(Base):
    """A machine credential. Only a SHA-256 of the token is kept; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    revoked: Mapped[bool] = mapped_column(default=False)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the services see it."""

    user_id: int
    username: str
    role: Role
    agency: str | None
    token_scope: TokenScope | None = None  # set when a machine token authenticated the call

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"token:{self.username}" if self.token_scope else self.username

    @property
    def city_wide(self) -> bool:
        return self.agencies is None

    @property
    def agencies(self) -> list[str] | None:
        """Agencies whose data this caller may see; ``None`` means all of them. An auditor
        given an agency is that agency's auditor: its data, audit entries and reports only."""
        if self.role in CITY_WIDE and not (self.role is Role.AUDITOR and self.agency):
            return None
        return [self.agency] if self.agency else []


class ConsoleSession(Base):
    """A console login. The cookie carries a random token; only its SHA-256 is kept here, so
    a session ends on the server (logout, password or role change, disabled user, expiry)."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
