"""The policy pack refuses a stack whose pinned bundle has no passing decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.offline import run_offline, stack_config_file
from infra.policy.evaluate import evaluate
from tests.unit.releases.conftest import Keys


def violations(bundle: Path | None, key: Path | None) -> list[str]:
    config = stack_config_file("hcmc-demo")
    if bundle is not None:
        config["citysoc:analyticsBundle"] = str(bundle)
    if key is not None:
        config["citysoc:releasePublicKey"] = str(key)
    plan = run_offline("hcmc-demo", config)
    pinned = [r for r in plan.resources if (r.props.get("metadata") or {}).get("analytics_bundle")]
    assert len(pinned) == (3 if bundle else 0)  # two sensors and the SOC API
    if bundle:
        assert plan.inventory["all"]["vars"]["citysoc_analytics_bundle"] == str(bundle)
    outcome = next(o for o in evaluate(plan) if o.policy == "analytics-bundle-gated")
    assert outcome.mandatory
    return [v.message for v in outcome.violations]


def test_no_pinned_bundle_nothing_to_refuse() -> None:
    assert violations(None, None) == []


def test_a_pinned_bundle_with_a_passing_decision_is_accepted(passed: Path, keys: Keys) -> None:
    assert violations(passed, keys.public_path) == []


def test_a_pinned_bundle_refused_by_the_gate_is_refused(refused: Path, keys: Keys) -> None:
    found = violations(refused, keys.public_path)
    assert len(found) == 1 and "the gate refused this bundle (failed: rule-proofs)" in found[0]
    assert "pinned by soc-api-01-vm, soc-sensor-01-vm, soc-sensor-02-vm" in found[0]


def test_a_bundle_without_its_key_is_a_config_error(passed: Path) -> None:
    from citysoc.core.errors import ConfigError

    with pytest.raises(ConfigError, match="go together"):
        violations(passed, None)
