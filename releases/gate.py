"""Run every check of the gate policy on a bundle and write its signed decision.

The checks read the bundle's own copy of the rules (not the working tree): a bundle is
judged on what it would deploy. The decision binds the bundle's content hash and the policy's
hash, and is signed with the release key (``CITYSOC_RELEASE_SIGNING_KEY``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

import citysoc
from citysoc.core.errors import ConfigError, Location
from citysoc.core.topology import Topology
from detections.engine.compiler import CompiledRule, compile_catalog
from releases.ecs_conformance import check_ecs
from releases.models import DECISION, CheckResult, GateDecision, GatePolicy
from releases.outside_checks import check_range, check_stack
from releases.proofs import (
    bundle_catalog,
    check_baseline_quiet,
    check_corpus,
    check_rule_proofs,
    check_suricata,
    check_yara,
)
from releases.signing import file_problems, read_manifest, sign_decision

log = logging.getLogger(__name__)

DEFAULT_POLICY = Path(__file__).with_name("gate-policy.yml")


@dataclass(frozen=True)
class GateInputs:
    """What the checks need beyond the bundle."""

    topology: Topology
    default_agency: str = "dic"
    range_score: Path | None = None
    corpus: Path | None = None


@dataclass
class GateRun:
    decision: GateDecision
    seconds: dict[str, float] = field(default_factory=dict)


def load_policy(path: Path = DEFAULT_POLICY) -> tuple[GatePolicy, str]:
    """The policy and the SHA-256 of its file (the decision names the policy it applied)."""
    try:
        data = path.read_bytes()
        policy = GatePolicy.model_validate(yaml.safe_load(data) or {})
    except OSError as exc:
        where = Location(str(path))
        raise ConfigError(f"cannot read the gate policy: {exc}", location=where) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"invalid gate policy: {exc}", location=Location(str(path))) from exc
    return policy, hashlib.sha256(data).hexdigest()


def run_gate(
    bundle: Path, policy: GatePolicy, policy_hash: str, inputs: GateInputs, key: Ed25519PrivateKey
) -> GateRun:
    """Every check the policy names, in order; the signed decision is written beside the
    manifest (replacing an older one)."""
    manifest = read_manifest(bundle)
    run = GateRun(decision=GateDecision(bundle_version=manifest.version,
                                        bundle_hash=manifest.content_hash, passed=False,
                                        checks=[], policy_hash=policy_hash,
                                        decided_at=datetime.now(UTC)))  # fmt: skip
    checks: list[CheckResult] = []
    tampered = file_problems(bundle, manifest)
    if manifest.citysoc_version != citysoc.__version__:
        tampered.append(
            f"built by citysoc {manifest.citysoc_version}, gated by {citysoc.__version__}: "
            "gate a bundle with the citysoc that built it"
        )
    checks.append(CheckResult(name="manifest", passed=not tampered,
                              detail=f"{len(manifest.files)} files as the manifest lists them",
                              failures=tampered))  # fmt: skip
    compiled: list[CompiledRule] = []
    catalog = bundle_catalog(bundle)

    def proofs() -> CheckResult:
        result, rules = check_rule_proofs(bundle, catalog)
        compiled.extend(rules)
        return result

    steps: dict[str, Callable[[], CheckResult]] = {
        "rule-proofs": proofs,
        "yara-proofs": lambda: check_yara(bundle),
        "suricata-lint": lambda: check_suricata(bundle, inputs.topology),
        "sigma-corpus": lambda: check_corpus(inputs.corpus, policy.corpus, policy.corpus_required),
        "baseline": lambda: check_baseline_quiet(
            bundle, compiled or compile_catalog(catalog).rules, inputs.topology,
            inputs.default_agency,
        ),
        "range-score": lambda: check_range(
            inputs.range_score, manifest.content_hash, policy.range
        ),
        "ecs-conformance": lambda: check_ecs(inputs.topology, inputs.default_agency),
        "infra-policy": lambda: check_stack(policy.stack),
    }  # fmt: skip
    for name in policy.checks:
        started = time.perf_counter()
        checks.append(steps[name]())
        run.seconds[name] = time.perf_counter() - started
        log.info("gate %s: %s in %.1fs", name, checks[-1].passed, run.seconds[name])
    decision = run.decision.model_copy(
        update={"checks": checks, "passed": all(c.passed for c in checks)}
    )
    run.decision = sign_decision(decision, key)
    (bundle / DECISION).write_text(
        json.dumps(run.decision.document(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return run
