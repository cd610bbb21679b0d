"""Error pages of the console: a person whose browser asked for a page gets the error as a
page in their language (what happened, what to do, the technical detail); API callers and
scripts keep the JSON error body."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from soc_api.console.common import CsrfError, render

NOT_PAGES = ("/api/", "/static/", "/metrics", "/health", "/docs", "/redoc", "/openapi")
EXPLAINED = (400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503)


def wants_page(request: Request) -> bool:
    """A browser's request for a console page (it accepts HTML), not an API call."""
    path = request.url.path
    accepts = request.headers.get("accept", "")
    return "text/html" in accepts and not path.startswith(NOT_PAGES)


def error_page(request: Request, status: int, message: str, error: Exception | None) -> Response:
    explained = status if status in EXPLAINED else (500 if status >= 500 else 400)
    key = "error.403_csrf" if isinstance(error, CsrfError) else f"error.{explained}"
    context = {
        "analyst": getattr(request.state, "principal", None),
        "status": status,
        "explanation": key,
        "message": message,
    }
    return render(request, "error.html", context, status)
