"""``citysoc rules validate|test``."""

from __future__ import annotations

import argparse

from citysoc.cli.output import fail, say, table
from citysoc.core.errors import RuleError
from citysoc.core.settings import Settings
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.proving import prove


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("rules", help="validate and test the detection rules")
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("validate", help="load, validate and compile every rule").set_defaults(
        func=validate
    )
    verbs.add_parser("test", help="prove every rule on its match/nomatch samples").set_defaults(
        func=test
    )


def validate(_args: argparse.Namespace, _settings: Settings) -> int:
    catalog = load_catalog()
    compiled = compile_catalog(catalog)
    errors = catalog.errors + compiled.errors
    for error in errors:
        fail(str(error))
    say(f"{len(catalog.folders)} rules loaded, {len(compiled.rules)} compiled to SQLite, "
        f"{len(errors)} errors")  # fmt: skip
    return 1 if errors else 0


def test(_args: argparse.Namespace, _settings: Settings) -> int:
    catalog = load_catalog()
    rows = []
    failures = len(catalog.errors)
    for folder in catalog.folders:
        try:
            proof = prove(catalog, folder)
        except RuleError as exc:
            fail(str(exc))
            failures += 1
            continue
        failures += not proof.ok
        rows.append(
            (
                folder.name,
                "yes" if proof.fires_on_all_matches else "NO",
                "yes" if proof.quiet_on_all_nomatches else "NO",
                len(proof.samples),
                f"{proof.seconds * 1000:.0f} ms",
            )
        )
        for sample in proof.samples:
            if not sample.ok:
                fail(f"{sample.sample}: expected {'a hit' if sample.expected else 'silence'}")
    table(("rule", "fires on match", "quiet on nomatch", "samples", "time"), rows)
    passed = sum(1 for row in rows if row[1] == row[2] == "yes")
    say(f"rules: {passed} proven, {failures} failing")
    return 1 if failures else 0
