"""Console sessions kept on the server: opened at login, looked up on every request (a look-up
under a second old is reused: :mod:`soc_api.auth.recent`), revoked.

The signed cookie holds only a random 256-bit session token. A session is revoked at logout,
when its user's password, role or agency changes or the user is disabled, and ends by itself
after :data:`SESSION_HOURS`; a stolen cookie is worth nothing after any of these.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from soc_api.auth.models import ConsoleSession, Principal, Role, User
from soc_api.auth.recent import recent

log = logging.getLogger(__name__)

SESSION_HOURS = 8
KEEP_ENDED_DAYS = 30  # ended sessions stay this long for the record, then are deleted


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(session: Session, *, user_id: int, client: str) -> str:
    """A new session for ``user_id``; returns the token to put in the cookie (shown once)."""
    now = _now()
    session.execute(
        delete(ConsoleSession).where(
            ConsoleSession.expires_at < _stamp(now - timedelta(days=KEEP_ENDED_DAYS))
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            user_id=user_id,
            client=client[:64],
            created_at=_stamp(now),
            expires_at=_stamp(now + timedelta(hours=SESSION_HOURS)),
        )
    )
    session.flush()
    return token


def recent_session(session: Session, token: str) -> Principal | None:
    """The user of a session looked up under a second ago, without reading the database;
    None when it must be read (:func:`session_principal`)."""
    return recent.get(recent.key("session", session, _hash(token)))


def session_principal(session: Session, token: str) -> Principal | None:
    """The user of a live session, or None (unknown, revoked, expired, or user disabled);
    one looked up under a second ago is not read again (:mod:`soc_api.auth.recent`)."""
    digest = _hash(token)
    key = recent.key("session", session, digest)
    known = recent.get(key)
    if known is not None:
        return known
    row = session.scalars(select(ConsoleSession).where(ConsoleSession.token_hash == digest)).first()
    if row is None or row.revoked_at is not None or row.expires_at <= _stamp(_now()):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    principal = Principal(user.id, user.username, Role(user.role), user.agency)
    recent.put(key, principal, row.expires_at)
    return principal


def revoke_session(session: Session, token: str, *, reason: str) -> int | None:
    """End one session (logout); returns its user's id, or None if it was not live."""
    row = session.scalars(
        select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at, row.revoked_reason = _stamp(_now()), reason
    recent.forget_all()
    session.flush()
    return row.user_id


def revoke_user_sessions(session: Session, *, user_id: int, reason: str) -> int:
    """End every live session of a user; returns how many there were."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=_stamp(_now()), revoked_reason=reason)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    recent.forget_all()
    if count:
        log.info("revoked %d console sessions of user %d: %s", count, user_id, reason)
    return count
