"""FastAPI dependencies: the context, a database session, the authenticated caller.

A caller is a console user (session cookie) or a machine (``Authorization: Bearer`` with an
API token). Which of them may do what is decided by the services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from citysoc.core.errors import AuthenticationError
from soc_api.auth.models import Principal
from soc_api.auth.sessions import recent_session, session_principal
from soc_api.auth.tokens import authenticate_token, recent_token
from soc_api.context import SocContext

bearer = HTTPBearer(auto_error=False, description="An API token (citysoc token create)")


async def get_context(request: Request) -> SocContext:
    ctx: SocContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[SocContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[Session]:
    # Opening a session touches no database (it connects on first use) and closing it ends
    # a read transaction: neither is worth a trip to the thread pool.
    with ctx.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """The console user of a live server-side session (the cookie holds only its token)."""
    token = request.session.get("sid")
    if not isinstance(token, str):
        return None
    principal = recent_session(session, token)
    if principal is None:
        principal = await run_in_threadpool(session_principal, session, token)
    request.state.principal = principal
    return principal


async def require_principal(
    request: Request,
    session: SessionDep,
    credentials: BearerDep,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if credentials is not None:
        principal = recent_token(session, credentials.credentials)
        if principal is None:
            principal = await run_in_threadpool(
                authenticate_token, session, credentials.credentials
            )
        request.state.principal = principal
        return principal
    if principal is None:
        raise AuthenticationError("log in first, or send an API token: no valid credentials")
    return principal


# Ids in paths: positive and within what every database's integer holds.
MAX_ID = 2**53
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: 1 to 16 digits, so ``/iocs/import`` is not an id (405, not
    422) and no path makes Python convert thousands of digits."""

    regex = "[0-9]{1,16}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

MaybeAnalyst = Annotated[Principal | None, Depends(optional_principal)]
CurrentAnalyst = Annotated[Principal, Depends(require_principal)]
