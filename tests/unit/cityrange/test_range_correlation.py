"""The labelled correlation score of a range run: wrong merges, splits, alerts per attack and
campaigns of one actor, computed from the SOC's own grouping of labelled alerts."""

from __future__ import annotations

from datetime import timedelta

from cityrange.correlation import score_correlation
from cityrange.score import SeenAlert, score_scenario
from soc_api.alerts.models import Alert
from tests.unit.cityrange.test_range_score import T0, run

DAY = timedelta(days=1)


def alert(n: int, attacker: str | None, agency: str = "dc", rule: str = "r") -> Alert:
    seen = f"2026-11-20T02:{n:02d}:00.000Z"
    return Alert(
        id=n, rule_id=f"{rule}{n}", rule_name=f"{rule}_{n}", title=f"rule {n}", severity="high",
        risk_score=73, status="new", agency=agency, segment=agency, security_level=3, entity={},
        dedup_key=f"k{n}", event_ids=[f"e{n}"], event_count=1, first_seen=seen, last_seen=seen,
        runbook="", tags=[], observables=[], attacker=attacker, targets=["ip:10.10.1.5"],
        target_count=1, infrastructure=[], fingerprints=[], tactic="discovery", also_rules=[],
    )  # fmt: skip


def test_one_actor_per_incident_and_one_campaign_of_one_actor_pass() -> None:
    alerts = [alert(1, "ip:203.0.113.1"), alert(2, "ip:203.0.113.1", "d1"),
              alert(3, "ip:203.0.113.2")]  # fmt: skip
    labels = {1: ["web-sqli"], 2: ["web-sqli"], 3: ["dc-port-scan"]}
    result = score_correlation(alerts, labels, DAY)
    assert result.passed
    assert (result.actors, result.attacks, result.alerts, result.incidents) == (2, 3, 3, 2)
    assert (result.campaigns, result.campaigns_with_one_actor) == (1, 1)
    assert result.most_alerts_per_attack == 1


def test_two_scenarios_in_one_incident_are_a_wrong_merge() -> None:
    # two scenarios' alerts that the grouping joins (here: the same attacker entity)
    alerts = [alert(1, "ip:10.50.0.53"), alert(2, "ip:10.50.0.53")]
    result = score_correlation(alerts, {1: ["dns-tunnel"], 2: ["mining"]}, DAY)
    assert result.wrong_merges == [["dns-tunnel", "mining"]] and not result.passed


def test_one_scenario_over_two_incidents_is_a_split() -> None:
    # the second alert has no attacker (seen only at infrastructure): an incident of its own
    alerts = [alert(1, "ip:10.10.1.20"), alert(2, None, "dic")]
    result = score_correlation(alerts, {1: ["dns-tunnel"], 2: ["dns-tunnel"]}, DAY)
    assert result.splits == {"dns-tunnel": 1} and not result.passed


def test_more_than_three_alerts_for_one_attack_in_one_agency_fail() -> None:
    alerts = [alert(n, "ip:10.32.0.66", "tanbinh") for n in range(1, 5)]
    result = score_correlation(alerts, {n: ["telnet-sweep"] for n in range(1, 5)}, DAY)
    assert result.over == {"telnet-sweep@tanbinh": 4} and result.most_alerts_per_attack == 4
    assert not result.passed


def test_baseline_alerts_are_counted_and_an_alert_of_two_scenarios_is_ambiguous() -> None:
    alerts = [alert(1, "ip:10.10.1.20"), alert(2, "ip:10.10.1.99")]
    result = score_correlation(alerts, {1: ["a", "b"]}, DAY)
    assert result.unlabelled == 1 and result.ambiguous == [1] and not result.passed


def test_a_rule_folded_into_another_alert_still_detects_its_scenario() -> None:
    folded = SeenAlert(1, "lateral_movement_telnet_from_camera", "tanbinh", "ip:10.31.3.235",
                       frozenset({"10.31.3.235"}), T0 + 2,
                       also=("discovery_camera_remote_shell_sweep",))  # fmt: skip
    expected = ("discovery_camera_remote_shell_sweep",)
    result = score_scenario(run(expected_rules=expected), [folded])
    assert result.detected
    assert "discovery_camera_remote_shell_sweep" in result.rules
