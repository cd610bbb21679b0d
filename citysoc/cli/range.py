"""``citysoc range run|list|clean``: the attack range, scoring the detections on the wire."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from cityrange.baseline import load_baseline
from cityrange.library import Scenario, load_library
from cityrange.score import RangeScore
from citysoc.cli.output import note, say, table
from citysoc.core.errors import RangeError
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "range", help="the attack range: replay the scenario library on the wire and score it"
    )
    kinds = parser.add_subparsers(dest="range_command", required=True)
    run = kinds.add_parser("run", help="build the range, play baseline and scenarios, score (root)")
    run.add_argument("--scenarios", metavar="ID,...", help="only these scenarios (default: all)")
    run.add_argument("--out", type=Path, help="write the score as JSON to this file")
    run.add_argument(
        "--bundle",
        type=Path,
        metavar="DIR",
        help="an analytics bundle: its content hash is recorded",
    )
    run.add_argument(
        "--keep-data", action="store_true", help="keep the run's event store and SOC state"
    )
    run.set_defaults(func=run_command)
    listing = kinds.add_parser("list", help="show the scenario library")
    listing.set_defaults(func=list_command)
    clean = kinds.add_parser("clean", help="remove namespaces an interrupted run left (crg-*)")
    clean.set_defaults(func=clean_command)


def chosen(scenarios: list[Scenario], wanted: str | None) -> list[Scenario]:
    if not wanted:
        return scenarios
    ids = [w.strip() for w in wanted.split(",") if w.strip()]
    known = {s.id for s in scenarios}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise RangeError(f"no scenario {', '.join(unknown)} (see `citysoc range list`)")
    return [s for s in scenarios if s.id in ids]


def bundle_hash(folder: Path) -> str:
    """The bundle's content hash from its manifest, else a SHA-256 over its files."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        import json

        value = json.loads(manifest.read_text()).get("content_hash")
        if isinstance(value, str):
            return value
    if not folder.is_dir():
        raise RangeError(f"bundle {folder} is not a folder")
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    from cityrange.runner import run_range  # loads the SOC API and the packet engine

    scenarios = chosen(load_library(), args.scenarios)
    topology = load_topology(settings.topology_path)
    note(f"[bold]range[/bold]: {len(scenarios)} scenarios and the benign baseline")
    score = run_range(
        settings,
        topology,
        scenarios,
        load_baseline(),
        progress=lambda text: note(f"  {text}"),
        bundle=bundle_hash(args.bundle) if args.bundle else None,
        keep_data=args.keep_data,
    )
    show(score)
    if args.out:
        args.out.write_text(score.to_json() + "\n")
        note(f"score written to {args.out}")
    return 0 if score.passed == len(score.scenarios) else 1


def show(score: RangeScore) -> None:
    rows = []
    for s in score.scenarios:
        ttd = "-" if s.seconds_to_detect is None else f"{s.seconds_to_detect:.1f}"
        rows.append((
            "pass" if s.passed else "MISS" if not s.detected else "FAIL",
            s.id,
            s.technique,
            "yes" if s.critical else "",
            ",".join(s.agencies_told) or "-",
            ttd,
            s.alerts,
            ",".join(s.rules) or "-",
        ))  # fmt: skip
    table(("result", "scenario", "technique", "critical", "told", "ttd s", "alerts", "rules"), rows)
    crit_passed, crit_total = score.critical
    base = score.baseline
    say("")
    say(
        f"passed {score.passed}/{len(score.scenarios)}, critical {crit_passed}/{crit_total}; "
        f"baseline {base.simulated_hours:g} h: {base.alerts} alerts "
        f"({base.false_positives_per_hour:g}/h){_rules(base.rules)}; {score.seconds:.0f}s"
    )
    c = score.correlation
    if c is not None:
        details = (("merged", c.wrong_merges), ("split", c.splits), ("over", c.over))
        say(
            f"correlation: {c.actors} actors, {c.attacks} attacks, {c.alerts} alerts in "
            f"{c.incidents} incidents; wrong merges {len(c.wrong_merges)}, splits "
            f"{len(c.splits)}, alerts per attack at most {c.most_alerts_per_attack}, campaigns "
            f"of one actor {c.campaigns_with_one_actor}/{c.campaigns}"
            + "".join(f"; {k}: {v}" for k, v in details if v)
        )


def _rules(rules: dict[str, int]) -> str:
    return " by " + ", ".join(f"{k} {v}" for k, v in rules.items()) if rules else ""


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    rows = [
        (
            s.id,
            s.technique,
            "yes" if s.critical else "",
            s.attacker,
            s.victim,
            ",".join(s.expected_rules),
        )
        for s in load_library()
    ]
    table(("scenario", "technique", "critical", "attacker", "victim", "expected rules"), rows)
    return 0


def clean_command(args: argparse.Namespace, settings: Settings) -> int:
    from cityrange.network import remove

    removed = remove()
    say(f"removed {len(removed)} namespaces" + (f": {', '.join(removed)}" if removed else ""))
    return 0
