"""What every console page shares: templates, the language, CSRF tokens, rendering."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from citysoc.core.errors import PermissionDeniedError
from soc_api.console.i18n import (
    COOKIE,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    format_number,
    format_time,
    translator,
)
from soc_api.console.localized import Localizer
from soc_api.runbooks import markdown_to_html

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters["markdown"] = markdown_to_html


@pass_context
def _when(context: Context, value: Any) -> str:
    """``{{ alert.last_seen | when }}``: a stored UTC time as the page's language writes it."""
    return format_time(value, str(context.get("lang", DEFAULT_LANGUAGE)))


@pass_context
def _day(context: Context, value: Any) -> str:
    return format_time(value, str(context.get("lang", DEFAULT_LANGUAGE)), date_only=True)


@pass_context
def _num(context: Context, value: Any, digits: int = 0) -> str:
    return format_number(value, str(context.get("lang", DEFAULT_LANGUAGE)), digits)


templates.env.filters.update(when=_when, day=_day, num=_num)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


class CsrfError(PermissionDeniedError):
    """A console form without this session's token: stale, or sent from another site."""


def check_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, submitted):
        raise CsrfError("the form is stale or forged (CSRF check failed): reload it")


def language(request: Request) -> str:
    chosen = request.cookies.get(COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    lang = language(request)
    t = translator(lang)
    ctx = getattr(request.app.state, "ctx", None)
    loc = Localizer.build(lang, t, ctx.rules if ctx else (), ctx.topology.agencies if ctx else {})
    context = {"csrf": csrf_token(request), "lang": lang, "t": t, "loc": loc, **context}
    return templates.TemplateResponse(request, name, context, status_code=status)
