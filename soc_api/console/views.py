"""Console pages: log in, the alert queue."""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from citysoc.core.errors import AuthenticationError, PermissionDeniedError
from soc_api.alerts.models import AlertStatus, Severity
from soc_api.alerts.service import list_alerts
from soc_api.auth.service import authenticate
from soc_api.deps import ContextDep, MaybeAnalyst, SessionDep

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
router = APIRouter(include_in_schema=False)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, submitted):
        raise PermissionDeniedError("the form is stale or forged (CSRF check failed): reload it")


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    context = {"csrf": csrf_token(request), **context}
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/alerts", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, analyst: MaybeAnalyst) -> Response:
    if analyst is not None:
        return RedirectResponse("/alerts", status_code=303)
    return render(request, "login.html", {"error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    check_csrf(request, csrf)
    try:
        who = authenticate(session, username=username, password=password)
    except AuthenticationError:
        log.warning("failed console login for %r", username)
        return render(request, "login.html", {"error": "Wrong user name or password."}, 401)
    request.session.clear()
    request.session["user_id"] = who.user_id
    log.info("console login: %s (%s)", who.username, who.role.value)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)]) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    status: AlertStatus | None = None,
    severity: Severity | None = None,
) -> Response:
    if analyst is None:
        return RedirectResponse("/login", status_code=303)
    total, alerts = list_alerts(
        session,
        agencies=analyst.agencies,
        status=status.value if status else None,
        severity=severity.value if severity else None,
        limit=200,
    )
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
            "status": status.value if status else "",
            "severity": severity.value if severity else "",
            "last_run": ctx.scheduler.last_run,
        },
    )
