"""``/api/v1/overview`` and the console's overview page (the landing page after login)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc_api.auth.models import READERS
from soc_api.console.common import language, render
from soc_api.console.i18n import translator
from soc_api.console.views import to_login
from soc_api.deps import ContextDep, CurrentAnalyst, MaybeAnalyst, SessionDep
from soc_api.overview.charts import bar_rows, city_map, queue_link, timeline_chart
from soc_api.overview.models import SEVERITIES, Overview, Period
from soc_api.overview.service import overview

router = APIRouter(prefix="/api/v1/overview", tags=["overview"])
pages = APIRouter(include_in_schema=False)

PeriodQuery = Annotated[Period, Query(description="How far back: 24h, 7d, 30d, 90d or all")]


@router.get("", response_model=Overview)
def get_overview(
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    period: PeriodQuery = Period.MONTH,
) -> Overview:
    """Alerts over time by severity, by agency, top rules and acting entities in the period,
    and open alerts per segment of the topology, within the caller's agencies (other
    agencies only as totals)."""
    return overview(session, who=analyst, topology=ctx.topology, period=period)


@pages.get("/overview", response_class=HTMLResponse)
def overview_page(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: MaybeAnalyst,
    period: PeriodQuery = Period.MONTH,
) -> Response:
    if analyst is None:
        return to_login()
    if analyst.role not in READERS:  # ops: rules and releases are theirs, alerts are not
        return RedirectResponse("/rules", status_code=303)
    found = overview(session, who=analyst, topology=ctx.topology, period=period)
    since = found.since if period is not Period.ALL else None
    lang = language(request)
    t = translator(lang)
    agencies: list[tuple[str, int, str | None, str | None]] = []
    for a in found.by_agency:
        known = ctx.topology.agencies.get(a.agency)
        name = (known.name_vi or known.name) if known and lang == "vi" else a.name
        agencies.append(
            (f"{a.agency} · {name}", a.count, queue_link(agency=a.agency, since=since), None)
        )
    if found.other_agencies:
        agencies.append((t("overview.other_agencies"), found.other_agencies, None, None))
    return render(
        request,
        "overview.html",
        {
            "analyst": analyst,
            "o": found,
            "periods": list(Period),
            "severities": SEVERITIES,
            "bucket_text": bucket_text(found.bucket_seconds, t),
            "timeline_wide": timeline_chart(
                found.timeline, found.bucket_seconds, width=1000, height=230, labels=8
            ),
            "timeline_narrow": timeline_chart(
                found.timeline, found.bucket_seconds, width=360, height=220, labels=4
            ),
            "by_agency": bar_rows(agencies),
            "rules": bar_rows(
                [
                    (r.rule, r.count, queue_link(rule=r.rule, since=since), r.severity)
                    for r in found.top_rules
                ]
            ),
            "entities": bar_rows(
                [
                    (e.entity, e.count, queue_link(attacker=e.entity, since=since), None)
                    for e in found.top_entities
                ]
            ),
            "map_wide": city_map(found.segments, columns=3, width=960),
            "map_narrow": city_map(found.segments, columns=2, width=360),
        },
    )


def bucket_text(seconds: int, t: Callable[..., str]) -> str:
    """How wide one bar of the timeline is, in the page's language."""
    if seconds < 3600:
        return t("overview.bucket.minutes", n=seconds // 60)
    if seconds < 86400:
        return t("overview.bucket.hours", n=seconds // 3600)
    return t("overview.bucket.days", n=seconds // 86400)
