"""``citysoc rules suricata lint|vars|build``: the city's Suricata rules, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from citysoc.cli.output import fail, say
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from detections.engine.suricata_rules import (
    build_ruleset,
    defined_variables,
    lint_files,
    rule_files,
    vars_yaml,
)


def add_parsers(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("suricata", help="Suricata rules: lint, variables, rulesets")
    actions = parser.add_subparsers(dest="suricata_verb", required=True)
    actions.add_parser("lint", help="lint every rule file in detections/suricata").set_defaults(
        func=lint
    )
    actions.add_parser("vars", help="print suricata.yaml address and port groups").set_defaults(
        func=variables
    )
    build = actions.add_parser("build", help="build one segment's ruleset with suricata-update")
    build.add_argument("--segment", required=True, help="topology segment id, e.g. cam-d1")
    build.add_argument("--out", required=True, type=Path, help="output directory")
    build.set_defaults(func=build_segment)


def lint(_args: argparse.Namespace, settings: Settings) -> int:
    topology = load_topology(settings.topology_path)
    files = rule_files()
    rules, errors = lint_files(files, defined_variables(topology))
    for error in errors:
        fail(str(error))
    say(f"{len(rules)} Suricata rules in {len(files)} files, {len(errors)} errors")
    return 1 if errors else 0


def variables(_args: argparse.Namespace, settings: Settings) -> int:
    say(vars_yaml(load_topology(settings.topology_path)).rstrip("\n"))
    return 0


def build_segment(args: argparse.Namespace, settings: Settings) -> int:
    topology = load_topology(settings.topology_path)
    if lint(args, settings):
        return 1
    merged = build_ruleset(topology, args.segment, args.out)
    lines = merged.read_text(encoding="utf-8").splitlines()
    active = [line for line in lines if line and not line.startswith("#")]
    drops = sum(1 for line in active if line.startswith("drop"))
    (args.out / "citysoc-vars.yaml").write_text(vars_yaml(topology), encoding="utf-8")
    say(f"{args.segment}: {len(active)} rules enabled ({drops} drop), {merged}")
    return 0
