"""The release's documents: the bundle's manifest, the gate's decision and the gate policy.

These cross process and file boundaries (the bundle on disk, the decision beside it, the SOC
API's records of both), so they are pydantic models with a schema name each.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from citysoc.core.canonical import canonical

BundleSchema = Literal["citysoc.release.bundle/1"]
DecisionSchema = Literal["citysoc.release.decision/1"]
BUNDLE_SCHEMA: BundleSchema = "citysoc.release.bundle/1"
DECISION_SCHEMA: DecisionSchema = "citysoc.release.decision/1"
MANIFEST = "manifest.json"
DECISION = "decision.json"


class Changelog(BaseModel):
    """What changed against the previous bundle: rule names (folder names, or
    ``yara:<name>`` and ``suricata:<sid>`` for the other kinds)."""

    model_config = ConfigDict(extra="forbid")

    previous: str | None = None
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


class BundleManifest(BaseModel):
    """``manifest.json`` of a bundle: every file's SHA-256 and the hash over all of them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: BundleSchema = Field(default=BUNDLE_SCHEMA, alias="schema")
    version: str
    citysoc_version: str
    created: datetime
    content_hash: str
    files: dict[str, str]
    rules: dict[str, str]
    changelog: Changelog = Field(default_factory=Changelog)

    def document(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


def content_hash(files: dict[str, str]) -> str:
    """SHA-256 over the sorted ``files`` map (relative path -> SHA-256), as canonical JSON."""
    return hashlib.sha256(canonical(dict(sorted(files.items())))).hexdigest()


class CheckResult(BaseModel):
    """One check of the gate: ``failures`` name the rule, scenario or file that failed."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool
    detail: str
    failures: list[str] = Field(default_factory=list)


class GateDecision(BaseModel):
    """``decision.json`` beside a bundle's manifest; ``signature`` is Ed25519 (base64) over the
    canonical JSON of every other field."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["citysoc.release.decision/1"] = Field(default=DECISION_SCHEMA, alias="schema")
    bundle_version: str
    bundle_hash: str
    passed: bool
    checks: list[CheckResult]
    policy_hash: str
    decided_at: datetime
    key_id: str = ""
    signature: str = ""

    def payload(self) -> bytes:
        """The bytes the signature covers."""
        return canonical(self.model_dump(mode="json", by_alias=True, exclude={"signature"}))

    def document(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)

    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


CheckName = Literal[
    "rule-proofs",
    "yara-proofs",
    "suricata-lint",
    "sigma-corpus",
    "baseline",
    "range-score",
    "ecs-conformance",
    "infra-policy",
]
CHECKS: tuple[CheckName, ...] = get_args(CheckName)  # in the order the gate runs them


class RangeThresholds(BaseModel):
    """What a range score must reach (see ``cityrange/score.py``)."""

    model_config = ConfigDict(extra="forbid")

    required: bool = Field(
        default=False, description="Refuse a bundle gated without a range score."
    )
    critical_pass_rate: float = Field(default=1.0, ge=0, le=1)
    overall_pass_rate: float = Field(default=0.95, ge=0, le=1)
    max_baseline_alerts: int = Field(default=0, ge=0)
    max_false_positives_per_hour: float = Field(default=0.0, ge=0)
    same_bundle: bool = Field(
        default=True, description="The score must name this bundle's content hash."
    )


class CorpusThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_fraction: dict[str, float] = Field(
        default_factory=dict, description="Per target: the least share of supported rules."
    )
    targets: list[str] = Field(default_factory=lambda: ["sqlite", "lucene"])


class GatePolicy(BaseModel):
    """The gate policy file (``releases/gate-policy.yml``): which checks run, and the bars."""

    model_config = ConfigDict(extra="forbid")

    checks: list[CheckName] = Field(default_factory=lambda: list(CHECKS))
    range: RangeThresholds = Field(default_factory=RangeThresholds)
    corpus: CorpusThresholds = Field(default_factory=CorpusThresholds)
    corpus_required: bool = Field(
        default=False, description="Refuse when no SigmaHQ corpus is found to check."
    )
    stack: str = Field(default="hcmc-demo", description="The Pulumi stack the policy pack runs on.")
