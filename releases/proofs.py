"""The gate's checks of the bundle's own rules: Sigma proofs (and that the compiled queries
are what the rules compile to), YARA proofs, the Suricata lint, the benign baseline and the
SigmaHQ corpus. Each names the rule, sample or file that failed."""

from __future__ import annotations

import logging
from pathlib import Path

from citysoc.core.errors import RuleError
from citysoc.core.topology import Topology
from collectors.enrich import Enricher
from detections.engine.baseline import check_baseline, load_known
from detections.engine.catalog import Catalog, load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.corpus import compile_corpus
from detections.engine.proving import prove
from detections.engine.suricata_rules import defined_variables, lint_files, rule_files
from detections.engine.yara_rules import load_yara_catalog, prove_yara
from releases.models import CheckResult, CorpusThresholds

log = logging.getLogger(__name__)


def _relative(path: Path, bundle: Path) -> str:
    try:
        return path.resolve().relative_to(bundle.resolve()).as_posix()
    except ValueError:
        return str(path)


def bundle_catalog(bundle: Path) -> Catalog:
    return load_catalog(bundle / "detections", bundle / "runbooks")


def check_rule_proofs(bundle: Path, catalog: Catalog) -> tuple[CheckResult, list[CompiledRule]]:
    """Every Sigma rule fires on its match samples, stays quiet on its nomatch ones, and the
    bundle's compiled SQLite query is the rule's."""
    failures = [f"{error.location or ''}: {error.message}" for error in catalog.errors]
    proven = 0
    for folder in catalog.folders:
        try:
            proof = prove(catalog, folder)
        except RuleError as exc:
            failures.append(f"{folder.name}: {exc.message}")
            continue
        proven += proof.ok
        failures += [
            f"{folder.name}: {_relative(s.sample, bundle)}: expected "
            f"{'a hit' if s.expected else 'silence'}, got {'a hit' if s.fired else 'silence'}"
            for s in proof.samples
            if not s.ok
        ]
    compiled = compile_catalog(catalog)
    failures += [f"{e.location or ''}: {e.message}" for e in compiled.errors]
    for rule in compiled.rules:
        shipped = bundle / "compiled" / "sqlite" / f"{rule.name}.sql"
        if not shipped.is_file() or shipped.read_text(encoding="utf-8").strip() != rule.sql:
            failures.append(
                f"{rule.name}: compiled/sqlite/{rule.name}.sql is not what it compiles to"
            )
    detail = f"{proven} of {len(catalog.folders) + len(catalog.errors)} Sigma rules proven"
    return CheckResult(name="rule-proofs", passed=not failures, detail=detail, failures=failures), (
        compiled.rules
    )


def check_yara(bundle: Path) -> CheckResult:
    catalog = load_yara_catalog(bundle / "detections" / "yara", bundle / "runbooks")
    failures = [f"{error.location or ''}: {error.message}" for error in catalog.errors]
    proven = 0
    for folder in catalog.folders:
        proof = prove_yara(folder)
        proven += proof.ok
        failures += [
            f"yara:{folder.name}: {_relative(s.sample, bundle)}: expected "
            f"{'a match' if s.expected else 'no match'}"
            for s in proof.samples
            if not s.ok
        ]
    total = len(catalog.folders) + len(catalog.errors)
    return CheckResult(
        name="yara-proofs", passed=not failures, detail=f"{proven} of {total} YARA rules proven",
        failures=failures,
    )  # fmt: skip


def check_suricata(bundle: Path, topology: Topology) -> CheckResult:
    files = rule_files(bundle / "detections" / "suricata")
    rules, errors = lint_files(files, defined_variables(topology), bundle / "runbooks")
    failures = [f"{_relative(Path(e.location.source), bundle) if e.location else ''}"
                f"{':' + str(e.location.line) if e.location and e.location.line else ''}: "
                f"{e.message}" for e in errors]  # fmt: skip
    if not files:
        failures.append("no Suricata rule files in the bundle")
    segments = [p.parent.name for p in (bundle / "suricata").glob("*/suricata.rules")]
    watched = [s for s in topology.segments if topology.sensors_of(s)]
    failures += [f"suricata/{s}/suricata.rules: missing" for s in watched if s not in segments]
    return CheckResult(
        name="suricata-lint", passed=not failures,
        detail=f"{len(rules)} Suricata rules lint clean; rulesets for {len(segments)} segments",
        failures=failures,
    )  # fmt: skip


def check_baseline_quiet(
    bundle: Path, rules: list[CompiledRule], topology: Topology, default_agency: str
) -> CheckResult:
    """The bundle's rules over the benign baseline: only reviewed false positives may fire."""
    try:
        from scenarios.baseline import baseline_events
    except ImportError:
        return CheckResult(
            name="baseline", passed=False, detail="not run",
            failures=["the benign baseline (scenarios/) is in the source tree only: "
                      "run the gate from a checkout"],
        )  # fmt: skip
    enrich = Enricher(topology, default_agency)
    events = [enrich(e) for e in baseline_events()]
    known = load_known(bundle / "detections" / "baseline" / "known_false_positives.yml")
    report = check_baseline(events, rules, known)
    failures = [f"{name}: {count} alerts on the benign baseline" for name, count in
                sorted(report.unexplained.items())]  # fmt: skip
    failures += [f"{name}: listed as a known false positive but quiet" for name in report.stale]
    accepted = sum(report.hits.values()) - sum(report.unexplained.values())
    return CheckResult(
        name="baseline", passed=report.clean,
        detail=f"{report.events} benign events, {sum(report.hits.values())} hits "
        f"({accepted} reviewed false positives)",
        failures=failures,
    )  # fmt: skip


def check_corpus(corpus: Path | None, thresholds: CorpusThresholds, required: bool) -> CheckResult:
    """The SigmaHQ corpus: how much of the content for our log sources compiles per target."""
    if corpus is None or not corpus.is_dir():
        where = f" at {corpus}" if corpus else " (give --corpus DIR)"
        return CheckResult(
            name="sigma-corpus", passed=not required, detail=f"not run: no corpus{where}",
            failures=["no SigmaHQ corpus to check, and the policy requires one"] if required
            else [],
        )  # fmt: skip
    report = compile_corpus(corpus, tuple(thresholds.targets))
    failures, parts = [], []
    for target in report.targets.values():
        parts.append(f"{target.target} {target.compiled}/{target.attempted}")
        least = thresholds.min_fraction.get(target.target, 0.0)
        if target.fraction < least:
            reasons = ", ".join(f"{n} x {r}" for r, n in target.failed.most_common(3))
            failures.append(
                f"{target.target}: {100 * target.fraction:.1f}% compiled, policy asks "
                f"{100 * least:.1f}% (most failures: {reasons})"
            )
    return CheckResult(
        name="sigma-corpus", passed=not failures,
        detail=f"{report.supported} rules for our log sources: " + ", ".join(parts),
        failures=failures,
    )  # fmt: skip
