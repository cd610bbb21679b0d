"""The gate's checks of what lies outside the bundle's rules: the range score against the
policy's thresholds, and the Pulumi policy pack on the stack (``citysoc infra plan``)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from pydantic import ValidationError

from citysoc.core.errors import CitysocError
from releases.models import CheckResult, RangeThresholds

log = logging.getLogger(__name__)


def check_range(score_file: Path | None, bundle_hash: str, bars: RangeThresholds) -> CheckResult:
    """Scenarios passed (all critical ones, enough of all), baseline alerts, for this bundle.

    Without a score file the check is "not run", and fails only if the policy requires it.
    """
    if score_file is None:
        return CheckResult(
            name="range-score", passed=not bars.required, detail="not run: no range score given",
            failures=["the policy requires a range score (citysoc range run --out FILE)"]
            if bars.required else [],
        )  # fmt: skip
    from cityrange.score import RangeScore

    try:
        score = RangeScore.model_validate_json(score_file.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        return CheckResult(
            name="range-score", passed=False, detail=f"unreadable score {score_file}",
            failures=[f"{score_file}: not a range score: {str(exc)[:300]}"],
        )  # fmt: skip
    failures = []
    if bars.same_bundle and score.bundle != bundle_hash:
        failures.append(
            f"the score is for bundle {str(score.bundle)[:16]}, not this one ({bundle_hash[:16]})"
        )
    critical = [s for s in score.scenarios if s.critical]
    failures += [f"critical scenario {s.id} ({s.technique}): {_why(s)}"
                 for s in critical if not s.passed]  # fmt: skip
    crit_rate = sum(s.passed for s in critical) / len(critical) if critical else 1.0
    if crit_rate < bars.critical_pass_rate:
        failures.append(f"critical scenarios: {100 * crit_rate:.0f}% passed, "
                        f"policy asks {100 * bars.critical_pass_rate:.0f}%")  # fmt: skip
    total = len(score.scenarios)
    rate = score.passed / total if total else 0.0
    if rate < bars.overall_pass_rate:
        missed = [f"{s.id} ({_why(s)})" for s in score.scenarios if not s.passed and not s.critical]
        asked = 100 * bars.overall_pass_rate
        failures.append(
            f"scenarios: {100 * rate:.1f}% passed, policy asks {asked:.0f}%; "
            f"missed: {', '.join(missed)}"
        )
    base = score.baseline
    if base.alerts > bars.max_baseline_alerts:
        rules = ", ".join(f"{r} ({n})" for r, n in sorted(base.rules.items()))
        failures.append(f"baseline: {base.alerts} alerts over {base.simulated_hours:g} h, policy "
                        f"allows {bars.max_baseline_alerts}: {rules}")  # fmt: skip
    if base.false_positives_per_hour > bars.max_false_positives_per_hour:
        failures.append(f"baseline: {base.false_positives_per_hour:.2f} false positives an hour, "
                        f"policy allows {bars.max_false_positives_per_hour:g}")  # fmt: skip
    detail = (f"{score.passed} of {total} scenarios passed ({sum(s.passed for s in critical)} of "
              f"{len(critical)} critical); {base.alerts} baseline alerts in "
              f"{base.simulated_hours:g} h")  # fmt: skip
    return CheckResult(name="range-score", passed=not failures, detail=detail, failures=failures)


def _why(scenario: object) -> str:
    detected = getattr(scenario, "detected", False)
    if not detected:
        expected = ", ".join(getattr(scenario, "expected_rules", [])) or "none listed"
        return f"not detected (expected {expected})"
    if not getattr(scenario, "victim_told", False):
        return f"the victim's agency {getattr(scenario, 'victim_agency', '?')} was not told"
    return f"the attacker's agency {getattr(scenario, 'attacker_agency', '?')} was not told"


def check_stack(stack: str) -> CheckResult:
    """The policy pack on the stack planned offline: mandatory violations fail the gate."""
    if importlib.util.find_spec("pulumi") is None:
        return CheckResult(
            name="infra-policy", passed=False, detail="not run",
            failures=["the Pulumi SDK is not installed (the infra extra)"],
        )  # fmt: skip
    from infra.offline import run_offline, stack_config_file
    from infra.policy.evaluate import evaluate

    try:
        plan = run_offline(stack, stack_config_file(stack))
    except CitysocError as exc:
        return CheckResult(name="infra-policy", passed=False, detail=f"stack {stack}: not planned",
                           failures=[str(exc)])  # fmt: skip
    outcomes = evaluate(plan)
    failures = [f"{v.policy}: {v.message}" for o in outcomes for v in o.violations if v.mandatory]
    advisory = sum(1 for o in outcomes for v in o.violations if not v.mandatory)
    detail = (f"stack {stack}: {len(plan.resources)} resources, "
              f"{sum(not o.violations for o in outcomes)} of {len(outcomes)} policies pass, "
              f"{advisory} advisory warnings")  # fmt: skip
    return CheckResult(name="infra-policy", passed=not failures, detail=detail, failures=failures)
