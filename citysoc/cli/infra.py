"""``citysoc infra plan|inventory``: the Pulumi program offline, under Pulumi's own mocks.

The Pulumi SDK is the optional ``infra`` extra: it is imported when the command runs, so the
SOC itself installs and runs without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import TYPE_CHECKING

from citysoc.cli.output import fail, note, say, table
from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings

if TYPE_CHECKING:
    from infra.offline import OfflinePlan, PlannedResource


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("infra", help="plan the city's infrastructure offline (no cloud)")
    verbs = parser.add_subparsers(dest="verb", required=True)
    plan = verbs.add_parser(
        "plan", help="run the Pulumi program under mocks; print resources and policy results"
    )
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.set_defaults(func=plan_command)
    inventory = verbs.add_parser("inventory", help="print the stack's Ansible inventory (JSON)")
    inventory.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    inventory.set_defaults(func=inventory_command)


TOPOLOGY_KEY = "citysoc:topology"


def _offline(stack: str, settings: Settings) -> OfflinePlan:
    """The stack planned offline; ``CITYSOC_TOPOLOGY_PATH``, when set, wins over the stack's
    ``citysoc:topology`` (as it does for ``pulumi up``), and the file used is named."""
    if importlib.util.find_spec("pulumi") is None:
        raise ConfigError(
            "citysoc infra needs the Pulumi SDK: install the infra extra "
            "(scripts/bootstrap.sh --dev, or `uv sync --extra infra`)"
        )
    from infra.offline import run_offline, stack_config_file

    config = stack_config_file(stack)
    named = config.get(TOPOLOGY_KEY, "(default)")
    if "topology_path" in settings.model_fields_set:
        config[TOPOLOGY_KEY] = str(settings.topology_path.resolve())
        source = f"CITYSOC_TOPOLOGY_PATH, over the stack's {TOPOLOGY_KEY} {named}"
    else:
        source = f"the stack's {TOPOLOGY_KEY}"
    plan = run_offline(stack, config)
    note(f"topology: {plan.topology} ({source})")
    return plan


def _tree(plan: OfflinePlan) -> None:
    from infra.policy.evaluate import planned_children

    children = planned_children(plan)

    def show(resource: PlannedResource, depth: int) -> None:
        say(f"{'  ' * depth}{resource.type}  {resource.name}")
        for child in children.get(resource.urn, []):
            show(child, depth + 1)

    for top in children.get("", []):
        show(top, 1)


def plan_command(args: argparse.Namespace, settings: Settings) -> int:
    plan = _offline(args.stack, settings)
    say(f"stack {plan.stack}: {len(plan.resources)} resources (offline, Pulumi mocks)")
    say(f"topology: {plan.topology}")
    _tree(plan)
    from infra.policy.evaluate import evaluate

    outcomes = evaluate(plan)
    say()
    rows = [
        (o.policy, "mandatory" if o.mandatory else "advisory", "pass" if not o.violations else
         f"FAIL ({len(o.violations)})")
        for o in outcomes
    ]  # fmt: skip
    table(("policy", "enforcement", "result"), rows)
    blocking = [v for o in outcomes for v in o.violations if v.mandatory]
    for violation in (v for o in outcomes for v in o.violations):
        fail(f"{violation.policy}: {violation.message}")
    say(f"policies: {sum(not o.violations for o in outcomes)} of {len(outcomes)} pass, "
        f"{len(blocking)} mandatory violations")  # fmt: skip
    return 1 if blocking else 0


def inventory_command(args: argparse.Namespace, settings: Settings) -> int:
    say(json.dumps(_offline(args.stack, settings).inventory, indent=2, sort_keys=True))
    return 0
