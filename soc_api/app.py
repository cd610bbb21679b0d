"""The SOC API application: API routes, the console, the detection schedule."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

import citysoc
from citysoc.core.settings import Settings
from soc_api.alerts.views import router as alerts_router
from soc_api.console.views import router as console_router
from soc_api.context import SocContext, build_context
from soc_api.deps import ContextDep
from soc_api.errors import install_error_handlers

log = logging.getLogger(__name__)

StartupTask = Callable[[SocContext], None]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings, *, startup: Sequence[StartupTask] = ()) -> FastAPI:
    """Build the app; the context (stores, rules, scheduler) is built at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings)
        app.state.ctx = ctx
        for task in startup:
            task(ctx)
        ctx.scheduler.start()
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(
        title="citysoc SOC API",
        version=citysoc.__version__,
        description="Alerts, incidents and reports of the city Information Security Centre.",
        lifespan=lifespan,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="citysoc_session",
        same_site="strict",
        https_only=settings.env == "production",
        max_age=8 * 3600,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    install_error_handlers(app)
    app.include_router(alerts_router)
    app.include_router(console_router)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "console" / "static"), "static"
    )

    @app.get("/health", tags=["health"])
    def health(ctx: ContextDep) -> dict[str, Any]:
        """Liveness and a short account of the detection schedule."""
        run = ctx.scheduler.last_run
        return {
            "status": "ok",
            "version": citysoc.__version__,
            "events": ctx.store.count(),
            "rules": len(ctx.rules),
            "rule_errors": len(ctx.rule_errors),
            "last_detection_run": None if run is None else run.__dict__,
        }

    return app
