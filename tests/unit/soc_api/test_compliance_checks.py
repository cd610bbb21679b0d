"""Evidence checks on a real SOC state (SQLite) and a real embedded event store, with the
policy pack and rule proofs given as plain results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.ecs import event_id
from citysoc.core.topology import Topology
from eventstore.sqlite import SqliteEventStore
from soc_api.alerts.models import Alert
from soc_api.audit import service as audit
from soc_api.audit.anchor import seal
from soc_api.auth.models import ApiToken, Role, User
from soc_api.compliance.evidence import (
    CHECKS,
    Context,
    Evidence,
    PolicyResult,
    RuleOutcome,
    Status,
)
from soc_api.compliance.frameworks import ComplianceError, framework
from soc_api.compliance.period import parse_period
from soc_api.compliance.report import build_report, decide
from soc_api.db import init_state, make_engine, transaction
from soc_api.iocs.models import Ioc

PERIOD = parse_period("2026-H2")


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    return init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    with SqliteEventStore(tmp_path / "events.db") as events:
        yield events


def _event(hour: int, day: int = 20, segment: str = "cam-d1") -> dict[str, Any]:
    stamp = f"2026-11-{day:02d}T{hour:02d}:05:00.000Z"
    return {
        "event.id": event_id(segment, stamp),
        "@timestamp": stamp,
        "event.dataset": "citysoc.rtsp",
        "organization.id": "d1",
        "citysoc.segment": segment,
    }


def _alert(**fields: Any) -> Alert:
    base: dict[str, Any] = {
        "rule_id": "r1", "rule_name": "rtsp_brute_force", "title": "t", "severity": "high",
        "risk_score": 70, "status": "new", "agency": "d1", "segment": "cam-d1",
        "security_level": 2, "entity": {}, "dedup_key": "k", "event_ids": [], "event_count": 1,
        "first_seen": "2026-11-20T02:00:00Z", "last_seen": "2026-11-20T02:00:00Z",
    }  # fmt: skip
    base.update(fields)
    return Alert(**base)


def _ctx(topology: Topology, **kw: Any) -> Context:
    return Context(topology=topology, agency="d1", period=PERIOD, **kw)


def test_topology_checks(topology: Topology) -> None:
    ctx = _ctx(topology)
    classified = CHECKS["systems_classified"](ctx)
    assert classified.status is Status.MET
    assert classified.data["systems"][0]["system"] == "cctv-d1"
    assert CHECKS["sensor_coverage"](ctx).data == {"sensors": {"cam-d1": ["soc-sensor-02"]}}
    assert CHECKS["collector_coverage"](ctx).status is Status.MET
    drainage = Context(topology=topology, agency="drainage", period=PERIOD)
    collectors = CHECKS["collector_coverage"](drainage)
    assert collectors.status is Status.NOT_MET
    assert collectors.findings == ["segment ics-flood has no log collector"]


def test_missing_sources_are_findings_not_crashes(topology: Topology) -> None:
    ctx = _ctx(topology)
    for name in ("segmentation_policy", "event_flow", "detection_coverage", "alert_handling",
                 "access_review", "audit_chain", "ioc_sharing"):  # fmt: skip
        evidence = CHECKS[name](ctx)
        assert evidence.status is Status.NOT_MET, name
        assert evidence.findings, name


def test_a_failing_source_is_a_finding(topology: Topology) -> None:
    def broken() -> list[PolicyResult]:
        raise OSError("stack file unreadable")

    evidence = CHECKS["segmentation_policy"](_ctx(topology, policies=broken))
    assert evidence.status is Status.NOT_MET
    assert "OSError: stack file unreadable" in evidence.findings[0]


def test_policy_results(topology: Topology) -> None:
    results = [PolicyResult("a", True, ()), PolicyResult("b", False, ("advice",))]
    evidence = CHECKS["segmentation_policy"](_ctx(topology, policies=lambda: results))
    assert evidence.status is Status.PARTLY_MET
    assert evidence.findings == ["b: advice"]
    blocking = [PolicyResult("a", True, ("open port",))]
    assert CHECKS["segmentation_policy"](_ctx(topology, policies=lambda: blocking)).status is (
        Status.NOT_MET
    )


def test_event_flow_counts_hours_and_lists_gaps(
    topology: Topology, store: SqliteEventStore
) -> None:
    store.write([_event(2), _event(3), _event(3, segment="cam-d1") | {"event.id": "x" * 32},
                 _event(6), _event(1, day=1) | {"@timestamp": "2025-01-01T00:00:00Z"}])  # fmt: skip
    evidence = CHECKS["event_flow"](_ctx(topology, store=store))
    seg = evidence.data["segments"]["cam-d1"]
    assert seg["events"] == 4  # the 2025 event is outside the period
    assert seg["hours_with_events"] == 3
    assert seg["by_source"] == {"citysoc.rtsp": 4}
    assert seg["gaps"] == 3  # before 02:00, 04:00-06:00, after 07:00
    assert {"start": "2026-11-20T04:00:00Z", "end": "2026-11-20T06:00:00Z"} in seg["longest_gaps"]
    assert evidence.data["segments"]["cam-d1"]["longest_gaps"][0]["start"] == "2026-07-01T00:00:00Z"
    assert evidence.status is Status.PARTLY_MET
    assert "3 gaps" in evidence.findings[0]


def test_alert_handling(topology: Topology, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        acked = _alert(status="closed", close_reason="true_positive",
                       closed_at="2026-11-20T06:00:00Z")  # fmt: skip
        session.add(acked)
        session.add(_alert(severity="critical", first_seen="2026-12-01T00:00:00Z"))
        session.add(_alert(first_seen="2026-01-01T00:00:00Z"))  # another period
        session.add(_alert(agency="tanbinh"))
        session.flush()
        change = {"before": {"status": "new"}, "after": {"status": "acknowledged"}}
        audit.append(session, actor="a", action="alert.update", object_type="alert",
                     object_id=acked.id, agency="d1", detail=change)  # fmt: skip
    evidence = CHECKS["alert_handling"](_ctx(topology, sessions=sessions))
    assert evidence.data["alerts"] == 2
    assert evidence.data["by_severity"] == {"critical": 1, "high": 1}
    assert evidence.data["mttr_hours_median"] == 4.0
    assert evidence.data["acknowledged"] == 1
    assert evidence.data["open_critical"][0]["age_hours"] == 31 * 24
    assert evidence.status is Status.NOT_MET
    assert any("critical alert" in f for f in evidence.findings)


def test_access_review(topology: Topology, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        session.add(User(username="aud", password_hash="x", role=Role.AUDITOR.value, agency=None))
        session.add(User(username="tb", password_hash="x", role=Role.AGENCY_ANALYST.value,
                         agency="tanbinh"))  # fmt: skip
        session.add(ApiToken(name="old", prefix="p1", token_hash="h", scope="ingest",
                             agency="d1", created_at="2026-01-01T00:00:00Z",
                             expires_at="2028-01-01T00:00:00Z"))  # fmt: skip
    evidence = CHECKS["access_review"](_ctx(topology, sessions=sessions))
    assert [r["user"] for r in evidence.data["readers"]] == ["aud"]
    assert evidence.status is Status.PARTLY_MET
    assert any("lives over 365 days" in f for f in evidence.findings)
    assert any("days old and still valid" in f for f in evidence.findings)


def test_audit_chain_and_its_checkpoints(
    topology: Topology, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        audit.append(session, actor="a", action="x", object_type="y", object_id=1, agency="d1")
    ctx = _ctx(topology, sessions=sessions, data_dir=tmp_path)
    assert CHECKS["audit_chain"](ctx).status is Status.PARTLY_MET  # no checkpoint yet
    with sessions() as session:
        seal(session, tmp_path)
    assert CHECKS["audit_chain"](ctx).status is Status.MET
    with transaction(sessions) as session:
        session.execute(audit.AuditEntry.__table__.update().values(actor="someone else"))
    broken = CHECKS["audit_chain"](ctx)
    assert broken.status is Status.NOT_MET and broken.findings


def test_ioc_sharing(topology: Topology, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        for tlp, owner, audience in (("GREEN", None, ""), ("AMBER", "tanbinh", ",d1,"),
                                     ("RED", "tanbinh", ""), ("AMBER", "d1", ",dc,")):  # fmt: skip
            session.add(Ioc(kind="ip", value=f"203.0.113.{len(tlp)}", tlp=tlp,
                            owner_agency=owner, audience=audience, created_by="x",
                            created_at="2026-10-01T00:00:00Z"))  # fmt: skip
    evidence = CHECKS["ioc_sharing"](_ctx(topology, sessions=sessions))
    assert evidence.data["received"] == 2 and evidence.data["shared"] == 1
    assert evidence.status is Status.MET


def test_detection_coverage(topology: Topology) -> None:
    rules = [RuleOutcome("cam_rule", "cameras", ("T1110",), True),
             RuleOutcome("net_rule", "network", ("T1046",), True),
             RuleOutcome("broken", "cameras", (), False)]  # fmt: skip
    evidence = CHECKS["detection_coverage"](_ctx(topology, rules=lambda: rules))
    assert evidence.data["kinds"]["camera"]["techniques"] == ["T1046", "T1110"]
    assert evidence.status is Status.PARTLY_MET  # a failing rule is named
    assert evidence.data["failing_rules"] == ["broken"]


def _evidence(status: Status) -> Evidence:
    return Evidence(check="c", query="q", at="t", status=status, findings=[], data={})


def test_decide() -> None:
    by_id = {r.id: r for r in framework("decree85").requirements}
    monitoring = by_id["d85-monitoring"]  # three checks, levels 2-5
    assert decide(by_id["d85-dossier-approved"], {2}, {}) is Status.NEEDS_ATTESTATION
    assert decide(by_id["d85-inspection"], {2}, {}) is Status.NOT_APPLICABLE
    assert decide(monitoring, {1}, {}) is Status.NOT_APPLICABLE
    for results, expected in (
        ((Status.MET, Status.MET, Status.MET), Status.MET),
        ((Status.MET, Status.NOT_MET, Status.MET), Status.PARTLY_MET),
        ((Status.NOT_MET, Status.NOT_MET, Status.NOT_MET), Status.NOT_MET),
        ((Status.PARTLY_MET, Status.MET, Status.MET), Status.PARTLY_MET),
    ):
        evidence = {
            c: _evidence(s) for c, s in zip(monitoring.evidence.checks, results, strict=True)
        }
        assert decide(monitoring, {2}, evidence) is expected


def test_report_is_stable_and_rejects_unknown_agency(topology: Topology) -> None:
    first = build_report(_ctx(topology), framework("circular31"), "en")
    again = build_report(_ctx(topology), framework("circular31"), "en")
    assert first == again
    assert first["generated_at"] == "2027-01-01T00:00:00Z"
    assert sum(first["summary"].values()) == len(first["requirements"])
    for piece in first["evidence"].values():
        assert len(piece["sha256"]) == 64 and piece["query"] and piece["at"]
    with pytest.raises(ComplianceError, match="agencies: d1, dc, dic"):
        build_report(Context(topology=topology, agency="nope", period=PERIOD),
                     framework("decree85"))  # fmt: skip


def _release(session: Session, version: str, *, range_passed: bool, detail: str) -> int:
    from soc_api.releases.models import Release

    checks = [{"name": "rule-proofs", "passed": True, "detail": "proven", "failures": []},
              {"name": "range-score", "passed": range_passed, "detail": detail,
               "failures": []}]  # fmt: skip
    release = Release(
        version=version, content_hash=version * 8, citysoc_version="0.1.0",
        created="2026-09-01T00:00:00+00:00", passed=True, key_id="k", manifest={},
        decision={"checks": checks}, recorded_at="2026-09-01T00:00:00Z", recorded_by="ops",
    )  # fmt: skip
    session.add(release)
    session.flush()
    return release.id


def test_release_gate_evidence_follows_what_was_deployed(
    topology: Topology, sessions: sessionmaker[Session]
) -> None:
    from soc_api.releases.models import ReleasePromotion

    ctx = Context(topology=topology, agency="d1", period=PERIOD, sessions=sessions)
    assert CHECKS["release_gate"](ctx).status is Status.NOT_MET  # nothing deployed
    with transaction(sessions) as session:
        unscored = _release(session, "v1", range_passed=True, detail="not run: no score given")
        session.add(ReleasePromotion(release_id=unscored, action="promote", actor="ops",
                                     at="2026-09-02T00:00:00Z", note=""))  # fmt: skip
    evidence = CHECKS["release_gate"](ctx)
    assert evidence.status is Status.PARTLY_MET and "without a passing range score" in str(
        evidence.findings
    )
    with transaction(sessions) as session:
        scored = _release(session, "v2", range_passed=True, detail="33 of 34 scenarios")
        session.add(ReleasePromotion(release_id=scored, action="promote", actor="ops",
                                     at="2026-10-02T00:00:00Z", note=""))  # fmt: skip
        later = _release(session, "v3", range_passed=False, detail="never deployed")
        session.add(
            ReleasePromotion(
                release_id=later, action="promote", actor="ops", at="2027-02-01T00:00:00Z", note=""
            )
        )  # after the period
    evidence = CHECKS["release_gate"](ctx)
    assert evidence.status is Status.MET, evidence.findings
    assert evidence.data["deployed"]["version"] == "v2"
    assert [d["version"] for d in evidence.data["deployments_in_period"]] == ["v1", "v2"]
