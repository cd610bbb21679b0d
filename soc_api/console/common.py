"""What every console page shares: templates, the language, CSRF tokens, rendering."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from citysoc.core.errors import PermissionDeniedError
from soc_api.console.i18n import COOKIE, DEFAULT_LANGUAGE, LANGUAGES, translator
from soc_api.runbooks import markdown_to_html

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters["markdown"] = markdown_to_html


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


def language(request: Request) -> str:
    chosen = request.cookies.get(COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    lang = language(request)
    context = {"csrf": csrf_token(request), "lang": lang, "t": translator(lang), **context}
    return templates.TemplateResponse(request, name, context, status_code=status)
