"""Create users and check their credentials."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import AuthenticationError, NotFoundError
from soc_api.audit import service as audit
from soc_api.auth.models import Principal, Role, User
from soc_api.auth.passwords import hash_password, verify_password
from soc_api.auth.sessions import revoke_user_sessions

log = logging.getLogger(__name__)

# Verified against when the user does not exist, so timing does not reveal valid names.
_DUMMY_HASH = hash_password("not-a-real-password")


def principal(user: User) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.agency)


def upsert_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    agency: str | None = None,
    display_name: str = "",
    actor: str = "system",
) -> User:
    """Create the user, or reset its password, role and agency (and enable it).

    Changing an existing user ends its console sessions; either way the audit log says who
    did it and what changed (never the password).
    """
    user = session.scalars(select(User).where(User.username == username)).first()
    created = user is None
    if user is None:
        user = User(username=username, password_hash="", role=role.value)
        session.add(user)
        changed = ["password", "role", "agency"]
    else:
        changed = ["password"]
        changed += ["role"] if user.role != role.value else []
        changed += ["agency"] if user.agency != agency else []
        changed += ["active"] if not user.active else []
    user.password_hash = hash_password(password)
    user.role = role.value
    user.agency = agency
    user.display_name = display_name or username
    user.active = True
    session.flush()
    revoked = 0 if created else revoke_user_sessions(session, user_id=user.id, reason="changed")
    audit.append(
        session,
        actor=actor,
        action="user.create" if created else "user.update",
        object_type="user",
        object_id=user.id,
        agency=agency,
        detail={
            "username": username,
            "role": role.value,
            "changed": changed,
            "sessions_revoked": revoked,
        },
    )
    log.info("user %s set up with role %s", username, role.value)
    return user


def disable_user(session: Session, *, username: str, actor: str = "system") -> User:
    """Disable a user: it can no longer log in and its console sessions end at once."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    user.active = False
    revoked = revoke_user_sessions(session, user_id=user.id, reason="disabled")
    audit.append(
        session,
        actor=actor,
        action="user.disable",
        object_type="user",
        object_id=user.id,
        agency=user.agency,
        detail={"username": username, "sessions_revoked": revoked},
    )
    log.info("user %s disabled (%d sessions ended)", username, revoked)
    return user


def authenticate(session: Session, *, username: str, password: str) -> Principal:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        raise AuthenticationError("unknown user or wrong password")
    if not verify_password(password, user.password_hash):
        raise AuthenticationError("unknown user or wrong password")
    return principal(user)


def load_principal(session: Session, user_id: int) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return principal(user)
