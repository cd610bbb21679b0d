"""How well incidents group the range's alerts by actor: the labelled correlation score.

Every scenario of the library attacks from an address of its own, so it is one actor: an
alert is labelled with the scenario whose attacker address is the alert's attacker or is
among its evidence addresses (:func:`cityrange.score.belongs_to`), never with what the alert
itself claims. The SOC's own grouping (:func:`soc_api.incidents.grouping.group_alerts`) then
makes the incidents, and they are scored against the labels:

- a **wrong merge** is an incident holding alerts of two scenarios (or of a scenario and the
  benign baseline);
- a **split** is a scenario whose alerts are spread over more than one incident;
- an **attack** is a scenario in one agency (an attack on another agency's host is told to
  both: two attacks), and its alerts are what that agency's analysts see;
- a **campaign** (an incident over two or more agencies) must hold one actor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta

from cityrange.score import MAX_ALERTS_PER_ATTACK, CorrelationResult
from soc_api.alerts.models import Alert
from soc_api.incidents.grouping import group_alerts

BASELINE = "baseline"  # the label of alerts that belong to no scenario


def score_correlation(
    alerts: Sequence[Alert], labels: Mapping[int, Sequence[str]], window: timedelta
) -> CorrelationResult:
    """Score the incidents ``group_alerts`` makes of ``alerts``; ``labels`` gives each alert's
    scenarios (usually one; none for the baseline's; two is an ambiguous alert)."""
    label: dict[int, str] = {}
    ambiguous = []
    for alert in alerts:
        found = list(dict.fromkeys(labels.get(alert.id, ())))
        if len(found) > 1:
            ambiguous.append(alert.id)
        label[alert.id] = found[0] if found else BASELINE
    groups = group_alerts(alerts, window)
    per_attack: dict[str, int] = defaultdict(int)
    incidents_of: dict[str, set[int]] = defaultdict(set)
    wrong = []
    campaigns = one_actor = 0
    for group in groups:
        names = sorted({label[a.id] for a in group.alerts})
        if len(names) > 1:
            wrong.append(names)
        if len(group.agencies) > 1:
            campaigns += 1
            one_actor += len(names) == 1 and len(group.attackers) <= 1
        for alert in group.alerts:
            incidents_of[label[alert.id]].add(group.id)
            if label[alert.id] != BASELINE:
                per_attack[f"{label[alert.id]}@{alert.agency}"] += 1
    scenarios = {k: v for k, v in incidents_of.items() if k != BASELINE}
    return CorrelationResult(
        actors=len(scenarios),
        attacks=len(per_attack),
        alerts=len(alerts),
        incidents=len(groups),
        campaigns=campaigns,
        campaigns_with_one_actor=one_actor,
        wrong_merges=wrong,
        splits={k: len(v) - 1 for k, v in sorted(scenarios.items()) if len(v) > 1},
        most_alerts_per_attack=max(per_attack.values(), default=0),
        over={k: n for k, n in sorted(per_attack.items()) if n > MAX_ALERTS_PER_ATTACK},
        unlabelled=sum(1 for a in alerts if label[a.id] == BASELINE),
        ambiguous=ambiguous,
    )
