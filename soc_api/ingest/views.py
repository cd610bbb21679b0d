"""``POST /api/v1/ingest``: NDJSON events from collectors, with an ingest token."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from collectors.enrich import Enricher
from soc_api.auth.permissions import require_ingest
from soc_api.deps import ContextDep, CurrentAnalyst
from soc_api.errors import InvalidRequestError, PayloadTooLargeError
from soc_api.ingest.service import IngestReport, ingest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["ingest"])

NDJSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequestError("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest",
    response_model=IngestReport,
    openapi_extra=NDJSON_BODY,
    responses={401: {}, 403: {}, 413: {}, 429: {}},
)
async def post_events(request: Request, ctx: ContextDep, caller: CurrentAnalyst) -> IngestReport:
    """Store flat ECS events, one JSON object a line; bad lines are reported by number."""
    require_ingest(caller)
    try:
        ctx.ingest_limiter.take(f"token:{caller.user_id}", "ingest calls")
    except Exception:
        ctx.metrics.rate_limited.labels("ingest").inc()
        raise
    body = await read_limited(request, ctx.settings.ingest_max_bytes)
    # A collector of one agency places unknown addresses in its own agency.
    enricher = ctx.enricher if caller.agency is None else Enricher(ctx.topology, caller.agency)
    report = await run_in_threadpool(
        ingest, body, store=ctx.store, enricher=enricher, agency=caller.agency
    )
    ctx.metrics.ingested.labels("stored").inc(report.stored)
    ctx.metrics.ingested.labels("duplicate").inc(report.duplicates)
    ctx.metrics.ingested.labels("rejected").inc(report.rejected)
    if report.stored:
        ctx.scheduler.trigger()
    log.info(
        "ingest by %s: %d stored, %d duplicates, %d rejected",
        caller.actor,
        report.stored,
        report.duplicates,
        report.rejected,
    )
    return report
