"""Domain errors to HTTP, in one place. Every error answer has the same JSON body."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from citysoc.core.errors import (
    AuthenticationError,
    CitysocError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RuleError,
    StoreError,
)

STATUS = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    RuleError: 422,
    StoreError: 503,
    ConfigError: 500,
}


def error_body(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status)


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CitysocError)
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        response = error_body(status, type(exc).__name__, exc.message)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="citysoc"'
        return response

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_body(422, "ValidationError", f"{where}: {first.get('msg')}")

    app.add_exception_handler(CitysocError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
