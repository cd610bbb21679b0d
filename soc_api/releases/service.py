"""Record a bundle's signed gate decision, list the history, promote and roll back.

A release is recorded only when its decision verifies with the release public key and is
for exactly the manifest given (its content hash, recomputed from the manifest's files);
a refused bundle can be recorded (the history shows what the gate refused and why) but
never promoted. Every change is appended to the audit log in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysoc.core.errors import NotFoundError, PermissionDeniedError
from releases.models import BundleManifest, GateDecision, content_hash
from releases.signing import signature_problem
from soc_api.audit import service as audit
from soc_api.auth.models import Principal, Role
from soc_api.errors import InvalidRequestError
from soc_api.releases.models import (
    CheckOutcome,
    PromotionPublic,
    Release,
    ReleaseHistory,
    ReleasePromotion,
    ReleasePublic,
    ReleaseUpload,
)

log = logging.getLogger(__name__)

CHANGERS = {Role.OPS, Role.ADMIN}
READERS = {Role.OPS, Role.ADMIN, Role.AUDITOR}


def require_release_reader(who: Principal) -> None:
    if who.token_scope is not None or who.role not in READERS:
        raise PermissionDeniedError("releases are for ops, admins and auditors")


def require_release_changer(who: Principal) -> None:
    if who.token_scope is not None or who.role not in CHANGERS:
        raise PermissionDeniedError("only ops and admins record, promote and roll back releases")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_upload(upload: ReleaseUpload) -> tuple[BundleManifest, GateDecision]:
    try:
        manifest = BundleManifest.model_validate(upload.manifest)
        decision = GateDecision.model_validate(upload.decision)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequestError(f"not a bundle manifest and gate decision: {where}: "
                                  f"{first['msg']}") from None  # fmt: skip
    return manifest, decision


def record_release(
    session: Session, *, upload: ReleaseUpload, public: Ed25519PublicKey | None, who: Principal
) -> Release:
    """Record a bundle and its decision, after checking the decision is signed and bound.
    ``public`` is the key decisions must verify with; None when the SOC has none set."""
    require_release_changer(who)
    manifest, decision = parse_upload(upload)
    if public is None:
        raise InvalidRequestError(
            "this SOC has no release public key to verify decisions with: set "
            "CITYSOC_RELEASE_PUBLIC_KEY (citysoc release keygen writes one)"
        )
    if content_hash(manifest.files) != manifest.content_hash:
        raise InvalidRequestError("the manifest's content_hash is not the hash of its files")
    if decision.bundle_hash != manifest.content_hash:
        raise InvalidRequestError(
            f"the decision is for bundle {decision.bundle_hash[:16]}, not this manifest's "
            f"{manifest.content_hash[:16]}"
        )
    problem = signature_problem(decision, public)
    if problem:
        raise InvalidRequestError(problem)
    known = session.scalars(
        select(Release).where(Release.content_hash == manifest.content_hash)
    ).first()
    if known is not None:
        return known  # recording the same bundle again changes nothing
    release = Release(
        version=manifest.version,
        content_hash=manifest.content_hash,
        citysoc_version=manifest.citysoc_version,
        created=manifest.created.isoformat(),
        passed=decision.passed,
        key_id=decision.key_id,
        manifest=manifest.document(),
        decision=decision.document(),
        recorded_at=_now(),
        recorded_by=who.actor,
    )
    session.add(release)
    session.flush()
    failed = [c.name for c in decision.failed()]
    audit.append(
        session, actor=who.actor, action="release.record", object_type="release",
        object_id=release.id,
        detail={"version": release.version, "hash": release.content_hash,
                "passed": release.passed, "failed": failed},
    )  # fmt: skip
    log.info("release %s recorded (passed=%s)", release.version, release.passed)
    return release


def _deployed(session: Session) -> ReleasePromotion | None:
    return session.scalars(
        select(ReleasePromotion).order_by(ReleasePromotion.id.desc()).limit(1)
    ).first()


def promote(
    session: Session, *, release_id: int, who: Principal, note: str = "", action: str = "promote"
) -> ReleasePromotion:
    """Make a release the deployed one; only a release whose gate passed."""
    require_release_changer(who)
    release = session.get(Release, release_id)
    if release is None:
        raise NotFoundError(f"no release {release_id}")
    if not release.passed:
        failed = [c["name"] for c in release.decision.get("checks", []) if not c.get("passed")]
        raise InvalidRequestError(
            f"release {release.version} did not pass the gate ({', '.join(failed)}): "
            "it cannot be deployed"
        )
    step = ReleasePromotion(
        release_id=release.id, action=action, actor=who.actor, at=_now(), note=note
    )
    session.add(step)
    session.flush()
    audit.append(
        session, actor=who.actor, action=f"release.{action}", object_type="release",
        object_id=release.id,
        detail={"version": release.version, "hash": release.content_hash, "note": note},
    )  # fmt: skip
    return step


def rollback(session: Session, *, who: Principal, note: str = "") -> ReleasePromotion:
    """Deploy again the release that was deployed before the current one."""
    require_release_changer(who)
    current = _deployed(session)
    if current is None:
        raise InvalidRequestError("nothing is deployed: there is nothing to roll back")
    earlier = session.scalars(
        select(ReleasePromotion)
        .where(
            ReleasePromotion.id < current.id,
            ReleasePromotion.release_id != current.release_id,
        )
        .order_by(ReleasePromotion.id.desc())
        .limit(1)
    ).first()
    if earlier is None:
        raise InvalidRequestError("no earlier release was deployed: nothing to roll back to")
    return promote(session, release_id=earlier.release_id, who=who, note=note, action="rollback")


def _failures(release: Release) -> set[str]:
    return {
        f"{c['name']}: {f}"
        for c in release.decision.get("checks", [])
        for f in c.get("failures", [])
    }


def history(session: Session, *, who: Principal) -> ReleaseHistory:
    """Every recorded release, newest first, with what changed and what newly fails."""
    require_release_reader(who)
    releases = list(session.scalars(select(Release).order_by(Release.id)))
    current = _deployed(session)
    items = []
    for index, release in enumerate(releases):
        before = _failures(releases[index - 1]) if index else set()
        changelog = release.manifest.get("changelog", {})
        items.append(
            ReleasePublic(
                id=release.id,
                version=release.version,
                content_hash=release.content_hash,
                citysoc_version=release.citysoc_version,
                created=release.created,
                passed=release.passed,
                key_id=release.key_id,
                recorded_at=release.recorded_at,
                recorded_by=release.recorded_by,
                deployed=current is not None and current.release_id == release.id,
                checks=[CheckOutcome.model_validate(c) for c in release.decision["checks"]],
                added=list(changelog.get("added", [])),
                removed=list(changelog.get("removed", [])),
                changed=list(changelog.get("changed", [])),
                newly_failing=sorted(_failures(release) - before),
            )
        )
    steps = session.scalars(select(ReleasePromotion).order_by(ReleasePromotion.id.desc()))
    return ReleaseHistory(
        deployed=current.release_id if current else None,
        items=items[::-1],
        promotions=[PromotionPublic.model_validate(s) for s in steps],
    )
