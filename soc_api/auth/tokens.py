"""API tokens for machines: random, scoped, expiring, stored only as a SHA-256.

A token reads ``cst_<prefix>_<secret>``; the prefix finds the row, the hash proves the
secret. Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import AuthenticationError
from soc_api.audit import service as audit
from soc_api.auth.models import ApiToken, Principal, Role, TokenScope
from soc_api.auth.recent import recent

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cst"  # noqa: S105 - a label, not a secret


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    token: str  # shown once, never stored
    expires_at: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, scope: TokenScope, agency: str | None, days: int, actor: str
) -> IssuedToken:
    """A new token (its secret is in the result only), recorded in the audit log."""
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        name=name,
        prefix=prefix,
        token_hash=_digest(token),
        scope=scope.value,
        agency=agency,
        created_at=_iso(_now()),
        expires_at=_iso(_now() + timedelta(days=days)),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="token.create",
        object_type="token",
        object_id=row.id,
        agency=agency,
        detail={"name": name, "scope": scope.value, "days": days},
    )
    log.info("API token %s (%s, scope %s) created by %s", row.id, name, scope.value, actor)
    return IssuedToken(row.id, name, token, row.expires_at)


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first (their hashes, never their secrets)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def token_state(row: ApiToken) -> str:
    """``revoked``, ``expired`` or ``active``."""
    if row.revoked:
        return "revoked"
    return "expired" if row.expires_at <= _iso(_now()) else "active"


def _parts(token: str) -> list[str]:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthenticationError("malformed API token")
    return parts


def recent_token(session: Session, token: str) -> Principal | None:
    """The principal of a token looked up under a second ago (:mod:`soc_api.auth.recent`),
    without reading the database; None when it must be read (:func:`authenticate_token`)."""
    _parts(token)
    return recent.get(recent.key("token", session, _digest(token)))


def authenticate_token(session: Session, token: str) -> Principal:
    """The principal a bearer token stands for; AuthenticationError if it is not valid now."""
    parts = _parts(token)
    digest = _digest(token)
    key = recent.key("token", session, digest)
    known = recent.get(key)  # looked up under a second ago (soc_api.auth.recent)
    if known is not None:
        return known
    row = session.scalars(select(ApiToken).where(ApiToken.prefix == parts[1])).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise AuthenticationError("unknown API token")
    if row.revoked:
        raise AuthenticationError("this API token was revoked")
    if row.expires_at <= _iso(_now()):
        raise AuthenticationError("this API token has expired")
    role = Role.AGENCY_ANALYST if row.agency else Role.AUDITOR
    principal = Principal(-row.id, row.name, role, row.agency, TokenScope(row.scope))
    recent.put(key, principal, row.expires_at)
    return principal


def revoke_token(session: Session, *, token_id: int, actor: str) -> bool:
    """Revoke a token (recorded in the audit log); ``False`` if there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False
    row.revoked = True
    recent.forget_all()
    audit.append(
        session,
        actor=actor,
        action="token.revoke",
        object_type="token",
        object_id=token_id,
        agency=row.agency,
    )
    return True
