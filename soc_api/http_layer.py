"""What every HTTP response passes through: security headers and the request metrics.

One plain ASGI middleware rather than two ``@app.middleware("http")`` functions: Starlette
runs each of those in a task of its own with a memory stream between it and the app, which
profiling showed as a share of every request's CPU; this one only looks at the response's
start message on its way out.
"""

from __future__ import annotations

import time
from typing import Any

import pydantic_core
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ResponseLayer:
    """Adds :data:`SECURITY_HEADERS` a response does not set itself, and counts each request
    by method, route template and status, with its time to the response's start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def start_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                count(scope, int(message["status"]), started)
            await send(message)

        await self.app(scope, receive, start_with_headers)


def count(scope: Scope, status: int, started: float) -> None:
    app: Any = scope.get("app")
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    if ctx is None:
        return
    name = getattr(scope.get("route"), "path", "unmatched")
    ctx.metrics.requests.labels(scope["method"], name, str(status)).inc()
    ctx.metrics.latency.labels(name).observe(time.perf_counter() - started)


def values_response(content: Any) -> Response:
    """A JSON answer of plain values (dicts, lists, strings, numbers), serialised by
    pydantic-core as FastAPI serialises a response model holding the same values. For the
    hot lists: building a model for each row and then serialising it cost a fifth of an alert
    page's CPU. The route keeps its ``response_model`` for the API's schema, and a test checks
    that the answer validates against it."""
    return Response(pydantic_core.to_json(content), media_type="application/json")
