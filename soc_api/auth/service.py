"""Create users and check their credentials."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import AuthenticationError
from soc_api.auth.models import Principal, Role, User
from soc_api.auth.passwords import hash_password, verify_password

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
) -> User:
    """Create the user, or reset its password, role and agency."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, password_hash="", role=role.value)
        session.add(user)
    user.password_hash = hash_password(password)
    user.role = role.value
    user.agency = agency
    user.display_name = display_name or username
    user.active = True
    session.flush()
    log.info("user %s set up with role %s", username, role.value)
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
