"""Console pages for oversight: the audit log (auditors and admins) and API tokens (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc_api.audit import service as audit
from soc_api.audit.anchor import verify_anchored
from soc_api.auth.models import Principal, TokenScope
from soc_api.auth.permissions import require_admin, require_auditor
from soc_api.auth.tokens import create_token, list_tokens, revoke_token, token_state
from soc_api.console.common import check_csrf, render
from soc_api.console.views import Csrf, require_console_user, to_login
from soc_api.deps import ContextDep, MaybeAnalyst, ObjectId, SessionDep
from soc_api.errors import InvalidRequestError

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 100  # entries per page of the audit log


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    object_type: Annotated[str, Query(max_length=32)] = "",
    object_id: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    verify: bool = False,
) -> Response:
    """The audit log, newest first, for auditors and admins; reading it is itself audited.
    ``verify`` recomputes the hash chain, as ``citysoc audit verify`` does."""
    if analyst is None:
        return to_login()
    require_auditor(analyst)
    # verified before this read is appended, so the page's count and the verifier's agree
    chain = audit.verify_chain(session) if verify else None
    anchor = verify_anchored(session, ctx.settings.data_dir, store=ctx.store) if verify else None
    total, entries = audit.read_log(
        session,
        who=analyst,
        object_type=object_type or None,
        object_id=object_id or None,
        limit=AUDIT_PAGE,
        offset=offset,
    )
    session.commit()
    return render(
        request,
        "audit.html",
        {
            "analyst": analyst,
            "entries": entries,
            "total": total,
            "chain": chain,
            "anchor": anchor,
            "filters": {"object_type": object_type, "object_id": object_id},
            "offset": offset,
            "page": AUDIT_PAGE,
        },
    )


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(
    request: Request, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst
) -> Response:
    """API tokens for collectors and machines: who has one, for what, until when."""
    if analyst is None:
        return to_login()
    require_admin(analyst)
    return _tokens(request, ctx, session, analyst, issued=None)


@router.post("/tokens", response_class=HTMLResponse)
def create_token_form(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    name: Annotated[str, Form(min_length=1, max_length=64)],
    scope: Annotated[TokenScope, Form()],
    days: Annotated[int, Form(ge=1, le=3650)] = 90,
    agency: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Create a token and show its secret, this once (a page, not a redirect)."""
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    require_admin(who)
    if agency and agency not in ctx.topology.agencies:
        raise InvalidRequestError(f"no agency {agency!r} in the city's topology")
    issued = create_token(
        session, name=name, scope=scope, agency=agency or None, days=days, actor=who.actor
    )
    session.commit()
    return _tokens(request, ctx, session, who, issued=issued.token)


@router.post("/tokens/{token_id}/revoke")
def revoke_token_form(
    request: Request, session: SessionDep, analyst: MaybeAnalyst, csrf: Csrf, token_id: ObjectId
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    require_admin(who)
    revoke_token(session, token_id=token_id, actor=who.actor)
    session.commit()
    return RedirectResponse("/tokens", status_code=303)


def _tokens(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: Principal,
    *,
    issued: str | None,
) -> Response:
    rows = [(row, token_state(row)) for row in list_tokens(session)]
    return render(
        request,
        "tokens.html",
        {
            "analyst": analyst,
            "tokens": rows,
            "scopes": list(TokenScope),
            "agencies": ctx.topology.model.agencies,
            "issued": issued,
        },
    )
