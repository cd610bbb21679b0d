"""Scoring: detected by an expected rule in time, who was told, storms folded, baseline noise."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cityrange.score import (
    RangeScore,
    ScenarioRun,
    SeenAlert,
    score_baseline,
    score_scenario,
)

T0 = 1_800_000_000.0


def run(**changes: object) -> ScenarioRun:
    values: dict[str, object] = {
        "id": "camera-telnet",
        "title": "Telnet from a camera",
        "technique": "T1110.001",
        "critical": True,
        "attacker_ip": "10.31.3.235",
        "victim_agency": "tanbinh",
        "attacker_agency": "d1",
        "expected_rules": ("lateral_movement_telnet_from_camera",),
        "window": 30.0,
        "started": T0,
    }
    values.update(changes)
    return ScenarioRun(**values)  # type: ignore[arg-type]


def alert(
    n: int,
    rule: str,
    agency: str,
    at: float,
    attacker: str | None = "ip:10.31.3.235",
    addresses: tuple[str, ...] = ("10.31.3.235", "10.32.7.250"),
) -> SeenAlert:
    return SeenAlert(n, rule, agency, attacker, frozenset(addresses), at)


def test_detected_by_an_expected_rule_and_told_to_both_agencies() -> None:
    alerts = [
        alert(1, "lateral_movement_telnet_from_camera", "d1", T0 + 4.25),
        alert(2, "lateral_movement_telnet_from_camera", "tanbinh", T0 + 4.25),
        alert(3, "credential_access_camera_default_credentials", "tanbinh", T0 + 6),
    ]
    result = score_scenario(run(), alerts)
    assert result.detected and result.passed
    assert result.victim_told and result.attacker_told
    assert result.agencies_told == ["d1", "tanbinh"]
    assert result.seconds_to_detect == 4.25
    assert result.rules == [
        "credential_access_camera_default_credentials",
        "lateral_movement_telnet_from_camera",
    ]
    assert result.alerts == 2  # the copy told to the victim's agency is the same alert


def test_only_the_attackers_agency_told_fails_the_scenario() -> None:
    result = score_scenario(run(), [alert(1, "lateral_movement_telnet_from_camera", "d1", T0 + 1)])
    assert result.detected and not result.victim_told and not result.passed


def test_unexpected_rule_or_too_late_is_a_miss() -> None:
    late = [alert(1, "lateral_movement_telnet_from_camera", "tanbinh", T0 + 31)]
    other = [alert(2, "discovery_camera_remote_shell_sweep", "tanbinh", T0 + 2)]
    assert not score_scenario(run(), late).detected
    missed = score_scenario(run(), other)
    assert not missed.detected and missed.seconds_to_detect is None
    assert missed.rules == ["discovery_camera_remote_shell_sweep"]


def test_alerts_of_other_attackers_are_not_the_scenarios() -> None:
    stranger = alert(
        1,
        "lateral_movement_telnet_from_camera",
        "tanbinh",
        T0 + 1,
        attacker="ip:10.31.3.200",
        addresses=("10.31.3.200", "10.32.7.250"),
    )
    assert not score_scenario(run(), [stranger]).detected


def test_a_storm_is_one_alert_per_rule_and_attacker() -> None:
    storm = [alert(n, "lateral_movement_telnet_from_camera", "d1", T0 + 1) for n in range(80)]
    assert score_scenario(run(), storm).alerts == 1


def test_attacker_outside_the_city_is_not_asked_about() -> None:
    outside = run(attacker_ip="203.0.113.20", attacker_agency=None, victim_agency="drainage")
    hit = alert(
        1,
        "lateral_movement_telnet_from_camera",
        "drainage",
        T0 + 2,
        attacker="ip:203.0.113.20",
        addresses=("203.0.113.20", "10.40.0.5"),
    )
    result = score_scenario(outside, [hit])
    assert result.attacker_told is None and result.passed


def test_baseline_counts_every_alert_no_scenario_owns() -> None:
    owned = alert(1, "lateral_movement_telnet_from_camera", "d1", T0 + 1)
    noise = [
        alert(2, "discovery_http_not_found", "dc", T0 - 50, None, ("10.20.0.10", "10.10.0.20")),
        alert(3, "discovery_http_not_found", "dc", T0 - 40, None, ("10.20.0.11", "10.10.0.20")),
        alert(
            4,
            "collection_rtsp_stream_pull_not_vms",
            "d1",
            T0 - 30,
            "ip:10.20.0.10",
            ("10.20.0.10", "10.31.0.11"),
        ),
    ]
    result = score_baseline([owned, *noise], [run()], simulated_hours=2.0)
    assert result.alerts == 3
    assert result.false_positives_per_hour == 1.5
    assert result.rules == {"collection_rtsp_stream_pull_not_vms": 1, "discovery_http_not_found": 2}


def test_score_json_has_the_contracts_schema_and_fields() -> None:
    result = score_scenario(run(), [alert(1, "lateral_movement_telnet_from_camera", "tanbinh", T0)])
    score = RangeScore(
        started=datetime(2026, 12, 2, tzinfo=UTC),
        seconds=12.5,
        scenarios=[result],
        baseline=score_baseline([], [run()], 1.0),
    )
    data = json.loads(score.to_json())
    assert data["schema"] == "citysoc.range.score/1"
    assert data["bundle"] is None
    assert set(data["scenarios"][0]) >= {
        "id",
        "title",
        "technique",
        "critical",
        "victim_agency",
        "attacker_agency",
        "expected_rules",
        "detected",
        "rules",
        "agencies_told",
        "victim_told",
        "attacker_told",
        "seconds_to_detect",
        "alerts",
    }
    again = RangeScore.model_validate(data).scenarios[0]
    assert again.detected and again.victim_told and not again.passed
    assert score.critical == (0, 1)  # victim tanbinh told, attacker d1 not: not passed
