"""The gate passes the current bundle and refuses one with a broken rule, naming it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citysoc.core.topology import Topology
from releases.bundle import BuiltBundle
from releases.gate import DEFAULT_POLICY, GateInputs, GateRun, load_policy, run_gate
from releases.models import DECISION, GateDecision, GatePolicy, RangeThresholds
from releases.outside_checks import check_range
from tests.unit.releases.conftest import BROKEN_RULE, Keys

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "sigmahq" / "rules"
HAS_RANGE = importlib.util.find_spec("cityrange") is not None


def scenario(sid: str, *, critical: bool, detected: bool, victim_told: bool = True) -> dict:
    return {
        "id": sid, "title": sid, "technique": "T1190", "critical": critical,
        "victim_agency": "tanbinh", "attacker_agency": None,
        "expected_rules": ["initial_access_hikvision_cve_2021_36260"], "detected": detected,
        "rules": ["initial_access_hikvision_cve_2021_36260"] if detected else [],
        "agencies_told": ["tanbinh"] if victim_told else [], "victim_told": victim_told,
        "attacker_told": None, "seconds_to_detect": 4.0 if detected else None, "alerts": 1,
    }  # fmt: skip


def write_score(path: Path, bundle: str, scenarios: list[dict], baseline_alerts: int = 0) -> Path:
    score = {
        "schema": "citysoc.range.score/1",
        "started": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
        "seconds": 120.0,
        "bundle": bundle,
        "scenarios": scenarios,
        "baseline": {"simulated_hours": 1.0, "alerts": baseline_alerts,
                     "false_positives_per_hour": float(baseline_alerts),
                     "rules": {"discovery_http_not_found": baseline_alerts} if baseline_alerts
                     else {}},
    }  # fmt: skip
    path.write_text(json.dumps(score), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def gated(
    current: BuiltBundle, keys: Keys, topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> GateRun:
    """The whole default policy on the current bundle (with a small passing range score when
    the range package is there)."""
    policy, digest = load_policy(DEFAULT_POLICY)
    bundle = Path(shutil.copytree(current.path, tmp_path_factory.mktemp("gated") / "bundle"))
    score = None
    if HAS_RANGE:
        folder = tmp_path_factory.mktemp("score")
        passing = [scenario("camera-exploit", critical=True, detected=True)]
        score = write_score(folder / "score.json", current.manifest.content_hash, passing)
    inputs = GateInputs(topology, range_score=score, corpus=CORPUS if CORPUS.is_dir() else None)
    return run_gate(bundle, policy, digest, inputs, keys.private)


def test_the_gate_passes_the_current_bundle(gated: GateRun, current: BuiltBundle) -> None:
    """Every check of the default policy (and the range, when it is there to score)."""
    decision = gated.decision
    failed = {c.name: c.failures[:5] for c in decision.failed()}
    assert decision.passed, failed
    assert [c.name for c in decision.checks] == ["manifest", *GatePolicy().checks]
    assert decision.bundle_hash == current.manifest.content_hash
    assert gated.decision.signature and gated.decision.key_id


def test_the_gate_refuses_a_bundle_whose_rule_no_longer_matches_and_names_it(
    refused: Path,
) -> None:
    decision = GateDecision.model_validate_json((refused / DECISION).read_bytes())
    assert not decision.passed
    assert [c.name for c in decision.failed()] == ["rule-proofs"]
    failures = decision.failed()[0].failures
    assert failures and all(f.startswith(f"{BROKEN_RULE}: ") for f in failures), failures
    assert any("match/" in f and "expected a hit, got silence" in f for f in failures)


def test_the_changelog_names_the_changed_rule(broken: BuiltBundle, current: BuiltBundle) -> None:
    log = broken.manifest.changelog
    assert log.previous == current.manifest.version
    assert log.changed == [BROKEN_RULE] and log.added == [] and log.removed == []
    assert broken.manifest.content_hash != current.manifest.content_hash


def test_without_a_range_score_the_policy_decides() -> None:
    assert check_range(None, "h", RangeThresholds(required=False)).passed
    refused = check_range(None, "h", RangeThresholds(required=True))
    assert not refused.passed and "requires a range score" in refused.failures[0]


@pytest.mark.skipif(not HAS_RANGE, reason="needs the range package (cityrange)")
def test_a_range_score_below_the_bars_names_the_scenarios(tmp_path: Path) -> None:
    scenarios = [
        scenario("camera-exploit", critical=True, detected=False),
        scenario("ssh-guessing", critical=False, detected=True, victim_told=False),
        *(scenario(f"ok-{n}", critical=False, detected=True) for n in range(3)),
    ]
    path = write_score(tmp_path / "score.json", "abc", scenarios, baseline_alerts=2)
    result = check_range(path, "abc", RangeThresholds())
    assert not result.passed
    text = "\n".join(result.failures)
    assert "critical scenario camera-exploit (T1190): not detected" in text
    assert "ssh-guessing (the victim's agency tanbinh was not told)" in text
    assert "baseline: 2 alerts" in text and "discovery_http_not_found (2)" in text
    other = check_range(path, "another-bundle", RangeThresholds())
    assert "the score is for bundle abc" in other.failures[0]


def test_a_bad_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    from citysoc.core.errors import ConfigError

    bad = tmp_path / "policy.yml"
    bad.write_text("checks: [rule-proofs, palm-reading]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid gate policy"):
        load_policy(bad)
