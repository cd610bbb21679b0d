"""``citysoc rules``: validate, prove, compile, export and measure the detection rules."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from citysoc.cli.output import fail, say, table
from citysoc.core.errors import RuleError
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from detections.engine.catalog import Catalog, load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.corpus import CorpusReport, compile_corpus
from detections.engine.coverage import ProvenRule, coverage_layers
from detections.engine.elastic_export import export_catalog
from detections.engine.proving import RuleProof, prove
from detections.engine.suricata_rules import defined_variables, lint_files, rule_files
from detections.engine.targets import TARGETS, backend, convert
from detections.engine.yara_rules import load_yara_catalog, prove_yara

# Modules adding verbs for other rule kinds (YARA, Suricata): each has add_parsers(verbs).
RULE_TOOLS: tuple[str, ...] = ("citysoc.cli.rules_yara", "citysoc.cli.rules_suricata")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("rules", help="validate, test, compile and export detection rules")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("validate", help="load, validate and compile every rule").set_defaults(
        func=validate
    )
    verbs.add_parser("test", help="prove every rule on its match/nomatch samples").set_defaults(
        func=test
    )
    compile_ = verbs.add_parser("compile", help="compile the rules (or a corpus) per target")
    compile_.add_argument("--target", choices=sorted(TARGETS), action="append")
    compile_.add_argument("--corpus", type=Path, help="a folder of third-party Sigma rules")
    compile_.add_argument("--out", type=Path, help="write the queries (or the report) here")
    compile_.set_defaults(func=compile_rules)
    export = verbs.add_parser("export", help="export as Elastic Security rules (NDJSON)")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(func=export_rules)
    coverage = verbs.add_parser("coverage", help="ATT&CK Navigator layers of proven rules")
    coverage.add_argument("--out", type=Path, required=True, help="folder for the layers")
    coverage.set_defaults(func=coverage_cmd)
    for name in RULE_TOOLS:
        importlib.import_module(name).add_parsers(verbs)


def validate(_args: argparse.Namespace, _settings: Settings) -> int:
    catalog = load_catalog()
    compiled = compile_catalog(catalog)
    errors = catalog.errors + compiled.errors
    for error in errors:
        fail(str(error))
    correlations = sum(rule.kind == "correlation" for rule in compiled.rules)
    building_blocks = len(catalog.folders) - len(catalog.errors) - len(compiled.rules)
    say(
        f"{len(catalog.folders)} rules loaded: {len(compiled.rules) - correlations} alerting "
        f"event rules and {correlations} correlations compiled to SQLite; "
        f"{max(building_blocks, 0)} building blocks that alert only through a correlation "
        f"(they compile into it); {len(errors)} errors"
    )
    return 1 if errors else 0


def prove_all(catalog: Catalog) -> tuple[list[RuleProof], int]:
    """Proofs of every rule, and how many rules failed to load or to prove."""
    proofs, failures = [], len(catalog.errors)
    for error in catalog.errors:
        fail(str(error))
    for folder in catalog.folders:
        try:
            proofs.append(prove(catalog, folder))
        except RuleError as exc:
            fail(str(exc))
            failures += 1
    return proofs, failures + sum(not p.ok for p in proofs)


def test(_args: argparse.Namespace, _settings: Settings) -> int:
    proofs, failures = prove_all(load_catalog())
    rows = [
        (
            p.folder.name,
            "yes" if p.fires_on_all_matches else "NO",
            "yes" if p.quiet_on_all_nomatches else "NO",
            len(p.samples),
            f"{p.seconds * 1000:.0f} ms",
        )
        for p in proofs
    ]
    for proof in proofs:
        for sample in proof.samples:
            if not sample.ok:
                fail(f"{sample.sample}: expected {'a hit' if sample.expected else 'silence'}")
    table(("rule", "fires on match", "quiet on nomatch", "samples", "time"), rows)
    say(f"rules: {sum(p.ok for p in proofs)} proven, {failures} failing")
    return 1 if failures else 0


def _print_corpus(report: CorpusReport) -> None:
    say(f"{report.root}: {report.files} files, {report.supported} rules for log sources "
        f"citysoc collects, {sum(report.unsupported.values())} for others")  # fmt: skip
    rows = [(t.target, t.compiled, t.attempted, f"{100 * t.fraction:.1f}%")
            for t in report.targets.values()]  # fmt: skip
    table(("target", "compiled", "attempted", "fraction"), rows)
    for target in report.targets.values():
        for reason, count in target.failed.most_common():
            say(f"  {target.target}: {count} x {reason} (e.g. {target.examples[reason][0]})")
    top = ", ".join(f"{name} ({n})" for name, n in report.unsupported.most_common(8))
    say(f"  log sources not collected: {top}")


def _corpus_json(report: CorpusReport) -> dict[str, object]:
    return {
        "root": str(report.root),
        "files": report.files,
        "supported": report.supported,
        "unsupported": dict(report.unsupported),
        "parse_errors": dict(report.parse_errors),
        "targets": {
            t.target: {
                "compiled": t.compiled,
                "attempted": t.attempted,
                "failed": dict(t.failed),
                "examples": t.examples,
            }
            for t in report.targets.values()
        },
    }


def compile_rules(args: argparse.Namespace, _settings: Settings) -> int:
    targets = tuple(args.target or TARGETS)
    if args.corpus:
        report = compile_corpus(args.corpus, targets)
        _print_corpus(report)
        if args.out:
            args.out.write_text(json.dumps(_corpus_json(report), indent=2), encoding="utf-8")
        return 0
    catalog = load_catalog()
    rows, failures = [], 0
    for target in targets:
        compiled, errors, out = 0, 0, []
        for rule in catalog.collection().rules:
            try:
                queries = convert(backend(target), rule)
            except Exception as exc:  # a backend's refusal is reported, not fatal
                errors += 1
                fail(f"{target}: {rule.title}: {exc}")
                continue
            compiled += bool(queries)
            out += [f"-- {rule.id} {rule.title}\n{q}\n" for q in queries]
        rows.append((target, compiled, errors))
        failures += errors
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"rules.{target}").write_text("\n".join(out), encoding="utf-8")
    table(("target", "queries", "not supported"), rows)
    return 0


def export_rules(args: argparse.Namespace, _settings: Settings) -> int:
    catalog = load_catalog()
    generating = {r.rule_id for r in compile_catalog(catalog).rules}
    export = export_catalog(catalog, generating=generating)
    args.out.write_text(export.ndjson(), encoding="utf-8")
    for error in export.skipped:
        fail(str(error))
    say(f"{len(export.rules)} Elastic Security rules written to {args.out} "
        f"({len(export.skipped)} not exportable)")  # fmt: skip
    return 0


def _other_proven(settings: Settings) -> tuple[list[ProvenRule], int]:
    """YARA rules that pass their samples, and Suricata rules that pass the linter (no
    Suricata engine is available to run them)."""
    yara_catalog = load_yara_catalog()
    proven, left_out = [], len(yara_catalog.errors)
    for folder in yara_catalog.folders:
        if prove_yara(folder).ok:
            tags = tuple(f"attack.{t.lower()}" for t in folder.techniques)
            proven.append(ProvenRule(folder.name, "yara", tags))
        else:
            left_out += 1
    variables = defined_variables(load_topology(settings.topology_path))
    rules, errors = lint_files(rule_files(), variables)
    for rule in rules:
        technique = rule.metadata.get("attack_technique", "")
        proven.append(
            ProvenRule(str(rule.sid), "suricata-linted", (f"attack.{technique.lower()}",))
        )
    return proven, left_out + len(errors)


def coverage_cmd(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog()
    proofs, failures = prove_all(catalog)
    others, other_failures = _other_proven(settings)
    failures += other_failures
    proven = others + [
        ProvenRule(
            p.folder.name,
            "correlation" if p.folder.is_correlation else "sigma",
            tuple(str(t) for t in p.folder.rule.tags or ()),
        )
        for p in proofs
        if p.ok
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    for domain, layer in coverage_layers(proven).items():
        path = args.out / f"citysoc-{domain}-layer.json"
        path.write_text(json.dumps(layer, indent=2), encoding="utf-8")
        say(f"{path}: {len(layer['techniques'])} techniques")
    if failures:
        say(f"{failures} rules left out: they fail their tests")
    return 0
