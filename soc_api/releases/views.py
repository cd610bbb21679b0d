"""``/api/v1/releases``: record a gated bundle, read the history, promote, roll back."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter

from citysoc.core.keys import load_private_key, load_public_key
from citysoc.core.settings import Settings
from soc_api.deps import ContextDep, CurrentAnalyst, ObjectId, SessionDep
from soc_api.releases.models import (
    PromotionCreate,
    PromotionPublic,
    ReleaseHistory,
    ReleasePublic,
    ReleaseUpload,
)
from soc_api.releases.service import history, promote, record_release, rollback

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])


def release_public_key(settings: Settings) -> Ed25519PublicKey | None:
    """The key recorded decisions must verify with, from the settings; None if unset."""
    if settings.release_public_key is not None:
        return load_public_key(settings.release_public_key)
    if settings.release_signing_key is not None:
        return load_private_key(settings.release_signing_key).public_key()
    return None


@router.get("", response_model=ReleaseHistory)
def get_releases(session: SessionDep, analyst: CurrentAnalyst) -> ReleaseHistory:
    """Every recorded release, newest first, which one is deployed, and the promotions."""
    return history(session, who=analyst)


@router.post("", response_model=ReleasePublic, status_code=201)
def post_release(
    ctx: ContextDep, session: SessionDep, analyst: CurrentAnalyst, upload: ReleaseUpload
) -> ReleasePublic:
    """Record a bundle's manifest and its gate decision (checked: signed and bound)."""
    public = release_public_key(ctx.settings)
    release = record_release(session, upload=upload, public=public, who=analyst)
    session.commit()
    return next(r for r in history(session, who=analyst).items if r.id == release.id)


@router.post("/{release_id:id}/promote", response_model=PromotionPublic)
def post_promote(
    session: SessionDep, analyst: CurrentAnalyst, release_id: ObjectId, change: PromotionCreate
) -> PromotionPublic:
    """Deploy this release (only one whose gate passed)."""
    step = promote(session, release_id=release_id, who=analyst, note=change.note)
    session.commit()
    return PromotionPublic.model_validate(step)


@router.post("/rollback", response_model=PromotionPublic)
def post_rollback(
    session: SessionDep, analyst: CurrentAnalyst, change: PromotionCreate
) -> PromotionPublic:
    """Deploy again the release deployed before the current one."""
    step = rollback(session, who=analyst, note=change.note)
    session.commit()
    return PromotionPublic.model_validate(step)
