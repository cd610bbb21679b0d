"""The context of a report from the SOC's own settings: the topology, the SOC state, the
event store, the policy pack's results (the Pulumi program planned offline) and the
detection rules' proofs."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from citysoc.core.errors import CitysocError
from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from eventstore.base import EventStore
from soc_api.compliance.evidence import Context, PolicyResult, RuleOutcome
from soc_api.compliance.period import Period
from soc_api.db import init_state, make_engine

log = logging.getLogger(__name__)
TOPOLOGY_KEY = "citysoc:topology"
REPO = Path(__file__).resolve().parents[2]


def policy_results(stack: str, topology: Path) -> list[PolicyResult]:
    """Every policy of the pack on the stack planned offline, against ``topology``."""
    if importlib.util.find_spec("pulumi") is None:
        raise CitysocError("the Pulumi SDK (the infra extra) is not installed")
    from infra.offline import run_offline, stack_config_file
    from infra.policy.evaluate import evaluate

    config = stack_config_file(stack)
    config[TOPOLOGY_KEY] = str(topology.resolve())
    outcomes = evaluate(run_offline(stack, config))
    return [
        PolicyResult(o.policy, o.mandatory, tuple(v.message for v in o.violations))
        for o in outcomes
    ]


def rule_outcomes() -> list[RuleOutcome]:
    """Each Sigma rule (and correlation) of the repository, proven on its own samples."""
    from citysoc.core.errors import RuleError
    from detections.engine.attack import techniques_in
    from detections.engine.catalog import load_catalog
    from detections.engine.proving import prove

    catalog = load_catalog()
    found = [RuleOutcome(str(e.location or e), "(unloadable)", (), False) for e in catalog.errors]
    for folder in catalog.folders:
        tags = tuple(techniques_in([str(t) for t in folder.rule.tags or ()]))
        try:
            ok = prove(catalog, folder).ok
        except RuleError as exc:
            log.error("%s", exc)
            ok = False
        found.append(RuleOutcome(folder.name, folder.area, tags, ok))
    return found


def single_stack(repo: Path) -> str | None:
    stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in repo.glob("Pulumi.*.yaml"))
    return stacks[0] if len(stacks) == 1 else None


def context_from_settings(
    settings: Settings,
    agency: str,
    period: Period,
    *,
    stack: str | None,
    store: EventStore | None,
) -> Context:
    topology = load_topology(settings.topology_path)
    sessions = init_state(make_engine(settings.resolved_state_url))
    path = settings.topology_path
    return Context(
        topology=topology,
        agency=agency,
        period=period,
        sessions=sessions,
        store=store,
        data_dir=settings.data_dir,
        policies=(lambda: policy_results(stack, path)) if stack else None,
        rules=rule_outcomes,
    )
