"""Checks answered by the release gate: which analytics bundle was deployed at the period's
end, whether its signed gate decision passed, and what the attack range scored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from soc_api.compliance.evidence import Context, Status, check
from soc_api.compliance.period import parse_time
from soc_api.releases.models import Release, ReleasePromotion


def _range_check(release: Release) -> dict[str, Any] | None:
    return next((c for c in release.decision.get("checks", []) if c.get("name") == "range-score"),
                None)  # fmt: skip


@check("release_gate")
def release_gate(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """SOC state: the analytics release deployed at the period's end (releases, promotions),
    its signed gate decision and the attack range's score in it; releases recorded and
    deployments made in the period
    """
    if ctx.sessions is None:
        return Status.NOT_MET, ["no SOC state database was given"], {}

    def before_end(stamp: str) -> bool:
        moment = parse_time(stamp)
        return moment is not None and moment < ctx.period.end

    with ctx.sessions() as session:
        steps = [
            p
            for p in session.scalars(select(ReleasePromotion).order_by(ReleasePromotion.id))
            if before_end(p.at)
        ]
        releases = {r.id: r for r in session.scalars(select(Release).order_by(Release.id))}
    recorded = [r for r in releases.values() if ctx.period.contains(r.recorded_at)]
    data: dict[str, Any] = {
        "recorded_in_period": [
            {"version": r.version, "hash": r.content_hash, "passed": r.passed} for r in recorded
        ],
        "deployments_in_period": [
            {
                "version": releases[p.release_id].version,
                "action": p.action,
                "at": p.at,
                "by": p.actor,
            }
            for p in steps
            if ctx.period.contains(p.at)
        ],
    }
    if not steps:
        return Status.NOT_MET, ["no analytics release was deployed through the gate"], data
    deployed = releases[steps[-1].release_id]
    scored = _range_check(deployed)
    data["deployed"] = {
        "version": deployed.version,
        "hash": deployed.content_hash,
        "passed": deployed.passed,
        "key_id": deployed.key_id,
        "checks": [
            {"name": c["name"], "passed": c["passed"], "detail": c["detail"]}
            for c in deployed.decision.get("checks", [])
        ],
        "range": scored,
    }
    if not deployed.passed:  # cannot happen through the API; an edited database can
        return Status.NOT_MET, [f"the deployed release {deployed.version} failed its gate"], data
    if scored is None or not scored.get("passed") or "not run" in str(scored.get("detail")):
        finding = f"the deployed release {deployed.version} was gated without a passing range score"
        return Status.PARTLY_MET, [finding], data
    return Status.MET, [], data
