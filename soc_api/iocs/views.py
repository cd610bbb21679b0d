"""``/api/v1/iocs``: list (by TLP), create, import STIX 2.1 bundles and CSV."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from soc_api.auth.permissions import require_triager
from soc_api.deps import ContextDep, CurrentAnalyst, ObjectId, SessionDep
from soc_api.ingest.views import read_limited
from soc_api.iocs.formats import read_csv, read_stix
from soc_api.iocs.models import ImportReport, Ioc, IocCreate, IocKind, IocPage, IocPublic, Tlp
from soc_api.iocs.service import create_ioc, get_ioc, import_iocs, list_iocs
from soc_api.iocs.sweep import sweep

router = APIRouter(prefix="/api/v1/iocs", tags=["iocs"])

RETRO_SWEEP_EVENTS = 200_000  # new IOCs are matched against this many most recent events


def retro_sweep(ctx: ContextDep, session: SessionDep, iocs: list[Ioc]) -> None:
    upto = ctx.store.head()
    sweep(
        session,
        ctx.store,
        after=max(0, upto - RETRO_SWEEP_EVENTS),
        upto=upto,
        iocs=iocs,
        suppression=timedelta(seconds=ctx.settings.suppression_window_seconds),
    )


@router.get("", response_model=IocPage)
def get_iocs(
    session: SessionDep,
    analyst: CurrentAnalyst,
    kind: IocKind | None = None,
    tlp: Tlp | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> IocPage:
    """The IOCs the caller's TLP clearance covers."""
    total, rows = list_iocs(session, who=analyst, kind=kind, tlp=tlp, limit=limit, offset=offset)
    return IocPage(total=total, items=[IocPublic.model_validate(r) for r in rows])


@router.post("", response_model=IocPublic, status_code=201)
def post_ioc(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, data: IocCreate
) -> IocPublic:
    """Add an IOC owned by the caller's agency; recent events are swept for it at once."""
    ioc = create_ioc(session, data=data, who=analyst)
    retro_sweep(ctx, session, [ioc])
    session.commit()
    return IocPublic.model_validate(ioc)


@router.get("/{ioc_id:id}", response_model=IocPublic)
def get_one_ioc(session: SessionDep, analyst: CurrentAnalyst, ioc_id: ObjectId) -> IocPublic:
    return IocPublic.model_validate(get_ioc(session, ioc_id=ioc_id, who=analyst))


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "STIX 2.1 bundle"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/import", response_model=ImportReport, openapi_extra=IMPORT_BODY)
async def import_feed(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    analyst: CurrentAnalyst,
    tlp: Tlp = Tlp.AMBER,
) -> ImportReport:
    """Import a STIX 2.1 bundle (``application/json``) or a CSV (``text/csv``).

    ``tlp`` labels items that carry no TLP marking of their own.
    """
    require_triager(analyst)
    body = (await read_limited(request, ctx.settings.ingest_max_bytes)).decode("utf-8", "replace")
    is_csv = request.headers.get("content-type", "").startswith("text/csv")
    items = read_csv(body, default_tlp=tlp) if is_csv else read_stix(body, default_tlp=tlp)
    report, created = import_iocs(
        session, items=items, who=analyst, source="csv" if is_csv else "stix"
    )
    retro_sweep(ctx, session, created)
    session.commit()
    return report
