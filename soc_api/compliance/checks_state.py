"""Checks answered by the SOC state (alerts, users and tokens, the audit log, IOCs) and by
the detection rules' own proofs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select

from soc_api.alerts.models import Alert, AlertStatus, Severity
from soc_api.audit.anchor import verify_anchored
from soc_api.audit.models import AuditEntry
from soc_api.auth.models import CITY_WIDE, ApiToken, Role, User
from soc_api.compliance.evidence import Context, Status, check
from soc_api.compliance.period import parse_time
from soc_api.iocs.models import Ioc, Tlp, split_audience
from soc_api.iocs.tlp import agency_may_see

# Rule folders by area: the segment kind they watch; other areas watch every kind.
AREA_KINDS = {"cameras": "camera", "datacentre": "datacentre", "ics": "ics", "ioc": "ioc"}
MTTA_TARGET = timedelta(hours=1)
CRITICAL_OPEN_LIMIT = timedelta(hours=24)
TOKEN_MAX_LIFETIME = timedelta(days=365)
TOKEN_REVIEW_AGE = timedelta(days=180)


def _no_state(ctx: Context) -> tuple[Status, list[str], dict[str, Any]] | None:
    if ctx.sessions is None:
        return Status.NOT_MET, ["no SOC state database was given"], {}
    return None


@check("detection_coverage")
def detection_coverage(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """detections: every Sigma rule proven on its own samples; proven rules counted per segment
    kind of the agency and per ATT&CK technique
    """
    if ctx.rules is None:
        return Status.NOT_MET, ["the detection rules were not proven for this report"], {}
    outcomes = ctx.memo("rules", ctx.rules)
    kinds = sorted({s.kind for s in ctx.segments()})
    failing = sorted(r.name for r in outcomes if not r.proven)
    per_kind: dict[str, Any] = {}
    findings = [f"rule {name} fails its own tests and is not counted" for name in failing]
    for kind in kinds:
        rules = [
            r for r in outcomes
            if r.proven and AREA_KINDS.get(r.area, kind) == kind
        ]  # fmt: skip
        specific = [r for r in rules if r.area in AREA_KINDS]
        techniques = sorted({t for r in rules for t in r.techniques})
        per_kind[kind] = {
            "proven_rules": len(rules),
            "kind_specific_rules": len(specific),
            "techniques": techniques,
            "rules": sorted(r.name for r in rules),
        }
        if not specific:
            findings.append(f"no proven rule written for {kind} segments (only generic rules)")
    if not kinds:
        return Status.NOT_MET, ["the agency has no segment"], {}
    covered = sum(bool(v["proven_rules"]) for v in per_kind.values())
    status = Status.NOT_MET if covered == 0 else Status.PARTLY_MET if findings else Status.MET
    return status, findings, {"kinds": per_kind, "failing_rules": failing}


def _median(spans: list[timedelta]) -> timedelta:
    return timedelta(seconds=median(t.total_seconds() for t in spans))


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _acknowledged(ctx: Context, alert_ids: list[int]) -> dict[int, datetime]:
    """The first time each alert left ``new``, from the audit log."""
    assert ctx.sessions is not None
    found: dict[int, datetime] = {}
    with ctx.sessions() as session:
        rows = session.execute(
            select(AuditEntry.object_id, AuditEntry.at, AuditEntry.detail)
            .where(AuditEntry.action == "alert.update", AuditEntry.agency == ctx.agency)
            .order_by(AuditEntry.id)
        ).all()
    wanted = {str(i) for i in alert_ids}
    for object_id, at, detail in rows:
        before = (detail or {}).get("before") or {}
        if object_id in wanted and before.get("status") == AlertStatus.NEW.value:
            moment = parse_time(at)
            if moment is not None:
                found.setdefault(int(object_id), moment)
    return found


@check("alert_handling")
def alert_handling(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """SOC state: the agency's alerts first seen in the period, by severity and status; MTTA from
    the audit log (first change out of 'new'), MTTR from closing; open criticals aged at the
    period's end
    """
    if (missing := _no_state(ctx)) is not None:
        return missing
    assert ctx.sessions is not None
    with ctx.sessions() as session:
        alerts = [
            a
            for a in session.scalars(
                select(Alert).where(Alert.agency == ctx.agency).order_by(Alert.id)
            )
            if ctx.period.contains(a.first_seen)
        ]
    acked = _acknowledged(ctx, [a.id for a in alerts])
    tta = [acked[a.id] - parse_time(a.first_seen) for a in alerts if a.id in acked]  # type: ignore[operator]
    ttr = [
        parse_time(a.closed_at) - parse_time(a.first_seen)  # type: ignore[operator]
        for a in alerts if a.closed_at and parse_time(a.closed_at)
    ]  # fmt: skip
    findings: list[str] = []
    open_critical = []
    for a in alerts:
        if a.status != AlertStatus.CLOSED.value and a.severity == Severity.CRITICAL.value:
            age = ctx.period.end - parse_time(a.first_seen)  # type: ignore[operator]
            open_critical.append({"id": a.id, "rule": a.rule_name, "first_seen": a.first_seen,
                                  "age_hours": _hours(age)})  # fmt: skip
            if age > CRITICAL_OPEN_LIMIT:
                findings.append(f"critical alert {a.id} ({a.rule_name}) open {_hours(age)} h")
    no_reason = [
        a.id for a in alerts if a.status == AlertStatus.CLOSED.value and not a.close_reason
    ]
    if no_reason:
        findings.append(f"alerts closed without a reason: {no_reason}")
    mtta = _median(tta) if tta else None
    if mtta is not None and mtta > MTTA_TARGET:
        findings.append(
            f"median time to acknowledge {_hours(mtta)} h is over {_hours(MTTA_TARGET)} h"
        )
    never = sum(a.id not in acked for a in alerts)
    if never:
        findings.append(f"{never} of {len(alerts)} alerts were never acknowledged")
    data = {
        "alerts": len(alerts),
        "by_severity": dict(sorted(Counter(a.severity for a in alerts).items())),
        "by_status": dict(sorted(Counter(a.status for a in alerts).items())),
        "close_reasons": dict(sorted(Counter(a.close_reason or "(none)" for a in alerts
                                             if a.status == AlertStatus.CLOSED.value).items())),
        "mtta_hours_median": _hours(mtta) if mtta is not None else None,
        "mttr_hours_median": _hours(_median(ttr)) if ttr else None,
        "acknowledged": len(tta),
        "resolved": len(ttr),
        "open_critical": open_critical,
    }  # fmt: skip
    if not alerts:
        return Status.MET, [f"no alert of the agency was first seen in {ctx.period.name}"], data
    if any("critical alert" in f for f in findings):
        return Status.NOT_MET, findings, data
    return (Status.PARTLY_MET if findings else Status.MET), findings, data


@check("access_review")
def access_review(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """SOC state: active users who can read the agency's data (city-wide roles and the agency's
    own), API tokens for it with their age and lifetime at the period's end
    """
    if (missing := _no_state(ctx)) is not None:
        return missing
    assert ctx.sessions is not None
    with ctx.sessions() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        tokens = list(session.scalars(select(ApiToken).order_by(ApiToken.prefix)))
    readers = [
        {"user": u.username, "role": u.role, "agency": u.agency, "active": u.active}
        for u in users
        if Role(u.role) in CITY_WIDE or u.agency == ctx.agency
    ]
    findings: list[str] = []
    rows = []
    for t in tokens:
        if t.agency not in (None, ctx.agency):
            continue
        created, expires = parse_time(t.created_at), parse_time(t.expires_at)
        if created is None or expires is None or created >= ctx.period.end:
            continue
        live = not t.revoked and expires > ctx.period.end
        age = ctx.period.end - created
        rows.append({"token": t.prefix, "name": t.name, "scope": t.scope, "agency": t.agency,
                     "created_at": t.created_at, "expires_at": t.expires_at,
                     "revoked": t.revoked, "live_at_period_end": live,
                     "age_days": age.days})  # fmt: skip
        if live and expires - created > TOKEN_MAX_LIFETIME:
            findings.append(
                f"token {t.prefix} ({t.name}) lives over {TOKEN_MAX_LIFETIME.days} days"
            )
        if live and age > TOKEN_REVIEW_AGE:
            findings.append(f"token {t.prefix} ({t.name}) is {age.days} days old and still valid")
    if not any(r["active"] for r in readers):
        findings.append("no active user can read the agency's data")
    data = {"readers": readers, "tokens": rows}
    return (Status.PARTLY_MET if findings else Status.MET), findings, data


@check("audit_chain")
def audit_chain(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """SOC state: the audit log's hash chain recomputed and checked against its signed checkpoints;
    the agency's entries in the period counted
    """
    if (missing := _no_state(ctx)) is not None:
        return missing
    assert ctx.sessions is not None
    if ctx.data_dir is None:
        return Status.NOT_MET, ["no data directory: the signed checkpoints cannot be read"], {}
    with ctx.sessions() as session:
        report = verify_anchored(session, ctx.data_dir, store=ctx.store)
        ats = session.scalars(select(AuditEntry.at).where(AuditEntry.agency == ctx.agency))
        in_period = sum(ctx.period.contains(at) for at in ats)
    data = {
        "entries": report.entries,
        "chain_intact": report.chain_intact,
        "checkpoints": report.checkpoints,
        "agency_entries_in_period": in_period,
        "problems": list(report.problems),
    }
    if not report.ok:
        return Status.NOT_MET, list(report.problems), data
    if report.checkpoints == 0:
        return Status.PARTLY_MET, ["the chain is intact but no signed checkpoint anchors it"], data
    return Status.MET, [], data


@check("ioc_sharing")
def ioc_sharing(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """SOC state: indicators the agency shared, and those shared with it (TLP rules), created in
    the period
    """
    if (missing := _no_state(ctx)) is not None:
        return missing
    assert ctx.sessions is not None
    with ctx.sessions() as session:
        iocs = [
            i
            for i in session.scalars(select(Ioc).order_by(Ioc.id))
            if ctx.period.contains(i.created_at)
        ]
    shared = [i for i in iocs if i.owner_agency == ctx.agency]
    received = [
        i for i in iocs
        if i.owner_agency != ctx.agency
        and agency_may_see(Tlp(i.tlp), i.owner_agency, split_audience(i.audience), ctx.agency)
    ]  # fmt: skip
    data = {
        "shared": len(shared),
        "received": len(received),
        "shared_by_tlp": dict(sorted(Counter(i.tlp for i in shared).items())),
        "received_by_tlp": dict(sorted(Counter(i.tlp for i in received).items())),
        "received_by_kind": dict(sorted(Counter(i.kind for i in received).items())),
    }
    if not received and not shared:
        return (
            Status.NOT_MET,
            [f"no indicator shared with or by the agency in {ctx.period.name}"],
            data,
        )
    return Status.MET, [], data
