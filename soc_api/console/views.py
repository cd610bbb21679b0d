"""Console pages: log in (rate-limited), language, the alert queue and its bulk actions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from citysoc.core.errors import AuthenticationError, QueryError
from soc_api.alerts.models import AlertFilter, AlertStatus, AlertUpdate, CloseReason, Severity
from soc_api.alerts.queries import list_alerts
from soc_api.alerts.visibility import visible_alerts
from soc_api.alerts.workflow import bulk_update
from soc_api.audit import service as audit
from soc_api.auth.clients import client_address, parse_proxies
from soc_api.auth.models import Principal
from soc_api.auth.service import authenticate
from soc_api.auth.sessions import open_session, revoke_session
from soc_api.console.common import check_csrf, language, render
from soc_api.console.i18n import COOKIE, LANGUAGES, translator
from soc_api.console.paging import MAX_OFFSET, page_size, pager, query_error
from soc_api.deps import ContextDep, MaybeAnalyst, SessionDep
from soc_api.errors import InvalidRequestError, RateLimitedError

log = logging.getLogger(__name__)
E = TypeVar("E", AlertStatus, Severity)

router = APIRouter(include_in_schema=False)

Csrf = Annotated[str, Form(max_length=128)]


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/overview", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, analyst: MaybeAnalyst) -> Response:
    if analyst is not None:
        return RedirectResponse("/overview", status_code=303)
    return render(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Csrf,
) -> Response:
    check_csrf(request, csrf)
    client = client_address(request, parse_proxies(ctx.settings.trusted_proxies))
    try:  # per client address, and per account whatever the address
        ctx.login_limiter.take(f"login:client:{client}", "login attempts")
        ctx.login_limiter.take(f"login:account:{username.strip().lower()}", "login attempts")
    except RateLimitedError as exc:
        ctx.metrics.rate_limited.labels("login").inc()
        log.warning("console login rate-limited for %r from %s", username[:64], client)
        response = render(request, "login.html", {"error": "login.limited"}, 429)
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response
    try:
        who = authenticate(session, username=username, password=password)
    except AuthenticationError:
        log.warning("failed console login for %r from %s", username[:64], client)
        audit.append(
            session,
            actor="anonymous",
            action="user.login_failed",
            object_type="user",
            object_id=username[:64],
            detail={"client": client},
        )
        session.commit()
        return render(request, "login.html", {"error": "login.error"}, 401)
    request.session.clear()  # a new session: nothing of the one before it carries over
    request.session["sid"] = open_session(session, user_id=who.user_id, client=client)
    audit.append(
        session,
        actor=who.actor,
        action="user.login",
        object_type="user",
        object_id=who.user_id,
        agency=who.agency,
        detail={"client": client},
    )
    session.commit()
    log.info("console login: %s (%s)", who.username, who.role.value)
    return RedirectResponse("/overview", status_code=303)


@router.post("/logout")
def logout(
    request: Request, ctx: ContextDep, session: SessionDep, analyst: MaybeAnalyst, csrf: Csrf
) -> Response:
    check_csrf(request, csrf)
    token = request.session.get("sid")
    if isinstance(token, str) and revoke_session(session, token, reason="logout") is not None:
        if analyst is not None:
            audit.append(
                session,
                actor=analyst.actor,
                action="user.logout",
                object_type="user",
                object_id=analyst.user_id,
                agency=analyst.agency,
                detail={
                    "client": client_address(request, parse_proxies(ctx.settings.trusted_proxies))
                },
            )
        session.commit()
    request.session.clear()
    return to_login()


@router.post("/lang")
def switch_language(
    request: Request, csrf: Csrf, lang: Annotated[str, Form(max_length=8)], back: str = "/alerts"
) -> Response:
    check_csrf(request, csrf)
    target = back if back.startswith("/") and not back.startswith("//") else "/alerts"
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


def _chosen(kind: type[E], value: str, what: str) -> E | None:
    """A select's choice: none when left at "any", an error naming an unknown one."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequestError(f"unknown {what} {value[:32]!r}") from None


def queue_filter(
    status: Annotated[str, Query(max_length=32)] = "",
    severity: Annotated[str, Query(max_length=32)] = "",
    agency: str | None = None,
    q: str | None = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    segment: Annotated[str | None, Query(max_length=32)] = None,
    attacker: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AlertFilter:
    """The queue's filters; the overview's charts link here with rule, segment, attacker and
    a time slice."""
    return AlertFilter(
        status=_chosen(AlertStatus, status, "status"),
        severity=_chosen(Severity, severity, "severity"),
        agency=agency or None, q=(q or "")[:2000] or None,
        rule=rule or None, segment=segment or None, attacker=attacker or None,
        since=since, until=until,
    )  # fmt: skip


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    filters: Annotated[AlertFilter, Depends(queue_filter)],
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: int | None = None,
) -> Response:
    if analyst is None:
        return to_login()
    size = page_size(limit)
    try:
        total, rows = list_alerts(session, who=analyst, filters=filters, limit=size, offset=offset)
        error = None
    except QueryError as exc:
        say = translator(language(request))
        total, rows, error = 0, [], query_error(filters.q or "", exc, say)
    params = dict(request.query_params)
    pages = pager("/alerts", params, total=total, offset=offset, limit=size, name="offset")
    alerts = visible_alerts(rows, who=analyst, topology=ctx.topology)
    agencies = {a.id: a for a in ctx.topology.model.agencies}
    return render(
        request,
        "alerts.html",
        {
            "analyst": analyst,
            "alerts": alerts,
            "total": total,
            "agencies": agencies,
            "statuses": list(AlertStatus),
            "severities": list(Severity),
            "reasons": list(CloseReason),
            "filters": filters,
            "last_run": ctx.scheduler.last_run,
            "last_busy_run": ctx.scheduler.last_busy_run,
            "visible_agencies": sorted(agencies) if analyst.agencies is None else analyst.agencies,
            "error": error,
            "pager": pages,
        },
        400 if error else 200,
    )


@router.post("/alerts/bulk")
def bulk_triage(
    request: Request,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    ids: Annotated[list[int], Form()],
    status: Annotated[AlertStatus, Form()],
    close_reason: Annotated[CloseReason | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    who = require_console_user(analyst)
    change = AlertUpdate(status=status, close_reason=close_reason)
    bulk_update(session, alert_ids=ids[:500], change=change, who=who)
    session.commit()
    return RedirectResponse("/alerts", status_code=303)


def require_console_user(analyst: Principal | None) -> Principal:
    if analyst is None:
        raise AuthenticationError("log in first: no valid session")
    return analyst
