"""``/api/v1/audit``: the audit trail (auditors and admins) and its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from soc_api.audit import service as audit
from soc_api.audit.anchor import AnchorReport, verify_anchored
from soc_api.audit.models import AuditPage, AuditPublic, ChainReport
from soc_api.auth.permissions import require_auditor
from soc_api.deps import ContextDep, CurrentAnalyst, SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def get_audit(
    session: SessionDep,
    analyst: CurrentAnalyst,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Audit entries, newest first; reading them is itself audited."""
    require_auditor(analyst)
    total, rows = audit.read_log(
        session,
        who=analyst,
        object_type=object_type,
        object_id=object_id,
        limit=limit,
        offset=offset,
    )
    session.commit()
    return AuditPage(total=total, items=[AuditPublic.model_validate(r) for r in rows])


@router.get("/verify", response_model=ChainReport)
def verify_audit(session: SessionDep, analyst: CurrentAnalyst) -> ChainReport:
    """Recompute the hash chain and name the first broken entry, if any."""
    require_auditor(analyst)
    return audit.verify_chain(session)


@router.get("/verify/anchored", response_model=AnchorReport)
def verify_audit_anchored(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst
) -> AnchorReport:
    """The hash chain checked against the signed checkpoints of its head: names entries
    removed from the end, removed and re-hashed, or rewritten and re-hashed."""
    require_auditor(analyst)
    return verify_anchored(session, ctx.settings.data_dir, store=ctx.store)
