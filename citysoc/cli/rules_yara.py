"""``citysoc rules yara test``: prove every YARA rule on its samples."""

from __future__ import annotations

import argparse

from citysoc.cli.output import fail, say, table
from citysoc.core.settings import Settings
from detections.engine.yara_rules import load_yara_catalog, prove_yara


def add_parsers(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("yara", help="YARA rules: prove them on their samples")
    actions = parser.add_subparsers(dest="yara_verb", required=True)
    actions.add_parser(
        "test", help="prove every YARA rule on its match/nomatch samples"
    ).set_defaults(func=test)


def test(_args: argparse.Namespace, _settings: Settings) -> int:
    catalog = load_yara_catalog()
    for error in catalog.errors:
        fail(str(error))
    rows = []
    failures = len(catalog.errors)
    for folder in catalog.folders:
        proof = prove_yara(folder)
        failures += not proof.ok
        rows.append(
            (
                folder.name,
                folder.meta["severity"],
                "yes" if proof.fires_on_all_matches else "NO",
                "yes" if proof.quiet_on_all_nomatches else "NO",
                len(proof.samples),
                f"{proof.seconds * 1000:.1f} ms",
            )
        )
        for sample in proof.samples:
            if not sample.ok:
                fail(f"{sample.sample}: expected {'a match' if sample.expected else 'no match'}")
    table(("rule", "severity", "fires on match", "quiet on nomatch", "samples", "time"), rows)
    say(f"YARA rules: {len(rows) - sum(1 for r in rows if 'NO' in r)} proven, {failures} failing")
    return 1 if failures else 0
