"""Domain errors to HTTP, in one place. Every error answer has the same JSON body."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from citysoc.core.errors import (
    AuthenticationError,
    CitysocError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    QueryError,
    RuleError,
    StoreError,
)
from soc_api.audit.service import record_refusal
from soc_api.console.errors import error_page, wants_page


class ConflictError(CitysocError):
    """The object is not in a state that allows this change (e.g. a closed alert acknowledged)."""


class InvalidRequestError(CitysocError):
    """The request is well formed but asks for something the domain refuses."""


class PayloadTooLargeError(CitysocError):
    """The request body is larger than the configured limit."""


class RateLimitedError(CitysocError):
    """Too many requests from one caller; ``retry_after`` seconds until the next is allowed."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


STATUS: dict[type[CitysocError], int] = {
    QueryError: 400,
    ConflictError: 409,
    InvalidRequestError: 422,
    PayloadTooLargeError: 413,
    RateLimitedError: 429,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    RuleError: 422,
    StoreError: 503,
    ConfigError: 500,
}


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"status": 404, "code": "NotFoundError", ...}}``."""

    error: ErrorDetail


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The answers any API route may give besides its own, documented once for the OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The body or a search query could not be parsed (the message says where)."),
    401: _documented("No valid credentials: log in, or send an API token."),
    403: _documented("The caller's role, scope or agency does not allow this."),
    404: _documented("No such object, or it belongs to another agency."),
    422: _documented("The request is well formed but refused (the message says why)."),
    429: _documented("Too many requests: see Retry-After."),
}


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error answers of a route whose own answers are not JSON (they stay JSON)."""
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {
            "description": ERROR_RESPONSES[status]["description"],
            "content": {"application/json": {"schema": ref}},
        }
        for status in statuses
    }


def error_body(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status)


async def audit_refusal(request: Request, reason: str) -> None:
    """Every refused request goes to the audit log, with who asked (when known) and what."""
    ctx = getattr(request.app.state, "ctx", None)
    if ctx is None:
        return
    await run_in_threadpool(
        record_refusal,
        ctx.sessions,
        who=getattr(request.state, "principal", None),
        method=request.method,
        path=request.url.path,
        reason=reason,
    )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Routing answers 405 with the methods of
    the first route whose path matched; a path served by two routes (``GET`` and ``PATCH`` of
    one alert) would be told it has only one."""
    found = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            found.append(method)
    return found


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CitysocError)
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        if status == 403:
            await audit_refusal(request, exc.message)
        if wants_page(request):  # a person in the console: the error as a page in their language
            response: Response = error_page(request, status, exc.message, exc)
        else:
            response = error_body(status, type(exc).__name__, exc.message)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="citysoc"'
        if isinstance(exc, RateLimitedError):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTPStatus(exc.status_code).phrase.replace(" ", "") if exc.status_code else "Error"
        if wants_page(request):
            response: Response = error_page(request, exc.status_code, str(exc.detail), exc)
        else:
            response = error_body(exc.status_code, code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if wants_page(request):
            return error_page(request, 422, f"{where}: {first.get('msg')}", exc)
        return error_body(422, "ValidationError", f"{where}: {first.get('msg')}")

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        """A bug: logged with its traceback by the server; the caller learns only that."""
        if wants_page(request):
            return error_page(request, 500, "", exc)
        return error_body(500, "InternalServerError", "unexpected error; see the server's log")

    app.add_exception_handler(Exception, unexpected_error)
    app.add_exception_handler(CitysocError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
