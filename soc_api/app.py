"""The SOC API application: API routes, the console, the detection schedule."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.middleware.sessions import SessionMiddleware

import citysoc
from citysoc.core.errors import PermissionDeniedError
from citysoc.core.settings import Settings
from soc_api.alerts.views import router as alerts_router
from soc_api.apidocs.views import router as apidocs_router
from soc_api.audit.views import router as audit_router
from soc_api.auth.clients import parse_proxies
from soc_api.auth.models import TokenScope
from soc_api.auth.secret import session_secret
from soc_api.background import Background, start_background
from soc_api.background import StartupTask as StartupTask  # re-exported for the CLI
from soc_api.cases.views import router as cases_router
from soc_api.console.cases import router as console_cases_router
from soc_api.console.compliance import router as console_compliance_router
from soc_api.console.oversight import router as console_oversight_router
from soc_api.console.pages import router as console_pages_router
from soc_api.console.releases import router as console_releases_router
from soc_api.console.search import router as console_search_router
from soc_api.console.views import router as console_router
from soc_api.context import build_context
from soc_api.db import API_THREADS
from soc_api.deps import ContextDep, CurrentAnalyst
from soc_api.errors import ERROR_RESPONSES, install_error_handlers, json_errors
from soc_api.http_layer import ResponseLayer
from soc_api.incidents.views import router as incidents_router
from soc_api.ingest.views import router as ingest_router
from soc_api.iocs.views import router as iocs_router
from soc_api.memory_report import start_memory_report
from soc_api.notifications.dispatcher import watch_notifications
from soc_api.notifications.views import router as notifications_router
from soc_api.overview.views import pages as overview_pages
from soc_api.overview.views import router as overview_router
from soc_api.releases.views import router as releases_router
from soc_api.rules.views import router as rules_router
from soc_api.schedule_link import ScheduleLink
from soc_api.search.views import router as search_router

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    startup: Sequence[StartupTask] = (),
    schedule: ScheduleLink | None = None,
) -> FastAPI:
    """Build the app; the context (stores, rules, scheduler) is built at start-up.

    With ``schedule`` the app is one of several API workers (:mod:`soc_api.workers`): the
    detection schedule, seals, reports and deliveries run in the process at the other end
    of the link, and ``startup`` is that process's too.
    """
    parse_proxies(settings.trusted_proxies)  # a bad entry stops the start, not a login

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Blocking requests run in at most API_THREADS threads, fewer than the state's pool
        # of connections (soc_api.db): what runs on the event loop always finds one free.
        to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        ctx = build_context(settings)
        app.state.ctx = ctx
        ctx.metrics.watch_state(lambda: (ctx.sessions, ctx.store.count()))
        background: Background | None = None
        if schedule is None:
            background = start_background(ctx, startup)
            app.state.notifier = background.notifier
        else:
            watch_notifications(
                ctx.sessions, settings, agencies=ctx.topology.agencies, rules=ctx.rules
            )
            ctx.scheduler.run_elsewhere(schedule)
        memory = start_memory_report(ctx)  # debugging only: off unless configured
        try:
            yield
        finally:
            if memory is not None:
                memory.stop()
            if background is not None:
                background.stop()
            ctx.close()

    app = FastAPI(
        title="citysoc SOC API",
        version=citysoc.__version__,
        description="Alerts, incidents and reports of the city Information Security Centre.",
        lifespan=lifespan,
        docs_url=None,  # served by soc_api.apidocs from local files, not a CDN
        redoc_url=None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="citysoc_session",
        same_site="strict",
        https_only=settings.env == "production",
        max_age=8 * 3600,
    )

    app.add_middleware(ResponseLayer)  # security headers, request metrics

    install_error_handlers(app)
    for router in (
        alerts_router,
        incidents_router,
        cases_router,
        notifications_router,
        iocs_router,
        ingest_router,
        rules_router,
        releases_router,
        search_router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(audit_router, responses=ERROR_RESPONSES)
    app.include_router(overview_router, responses=ERROR_RESPONSES)
    app.include_router(overview_pages)
    for router in (
        console_router,
        console_pages_router,
        console_oversight_router,
        console_compliance_router,
        console_releases_router,
        console_search_router,
        console_cases_router,
        apidocs_router,
    ):
        app.include_router(router)
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
            "pid": os.getpid(),  # which process answered (several with --workers)
            "events": ctx.store.count(),
            "rules": len(ctx.rules),
            "rule_errors": len(ctx.rule_errors),
            "last_detection_run": None if run is None else run.__dict__,
        }

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        responses=json_errors(401, 403),
    )
    def metrics(ctx: ContextDep, caller: CurrentAnalyst) -> PlainTextResponse:
        """Prometheus metrics: requests, ingest, rate limits, alerts by agency and status.

        City-wide callers only (a read token without agency, for Prometheus' bearer token).
        """
        if not caller.city_wide or caller.token_scope is TokenScope.INGEST:
            raise PermissionDeniedError("metrics are for city-wide callers")
        return PlainTextResponse(ctx.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
