"""The range's score: what each scenario raised, who was told, how fast; baseline noise.

The models are the contract with the release gate (``releases/``), which reads the JSON that
``citysoc range run --out FILE`` writes. :func:`score_scenario` and :func:`score_baseline`
are the pure scoring rules, unit-tested on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SCHEMA = "citysoc.range.score/1"
MAX_ALERTS_PER_ATTACK = 3  # the labelled correlation's bar: alerts one agency sees per attack


class ScenarioResult(BaseModel):
    id: str
    title: str
    technique: str
    critical: bool
    victim_agency: str
    attacker_agency: str | None = None  # None when the attacker is on the internet
    expected_rules: list[str]
    detected: bool
    rules: list[str] = Field(default_factory=list)
    agencies_told: list[str] = Field(default_factory=list)
    victim_told: bool
    attacker_told: bool | None = None  # None when the attacker is outside the city
    seconds_to_detect: float | None = None
    alerts: int = 0

    @property
    def passed(self) -> bool:
        return self.detected and self.victim_told and self.attacker_told is not False


class CorrelationResult(BaseModel):
    """Incidents scored against the scenarios as labels (``cityrange/correlation.py``)."""

    actors: int  # scenarios with at least one alert
    attacks: int  # (scenario, agency) pairs with at least one alert
    alerts: int
    incidents: int
    campaigns: int
    campaigns_with_one_actor: int
    wrong_merges: list[list[str]] = Field(default_factory=list)  # each: the labels merged
    splits: dict[str, int] = Field(default_factory=dict)  # scenario → incidents beyond one
    most_alerts_per_attack: int = 0
    over: dict[str, int] = Field(default_factory=dict)  # "scenario@agency" → alerts, above 3
    unlabelled: int = 0  # alerts of no scenario (the baseline's false positives)
    ambiguous: list[int] = Field(default_factory=list)  # alerts two scenarios' addresses share

    @property
    def passed(self) -> bool:
        return (
            not self.wrong_merges
            and not self.splits
            and not self.over
            and not self.ambiguous
            and self.campaigns == self.campaigns_with_one_actor
        )


class BaselineResult(BaseModel):
    simulated_hours: float
    alerts: int
    false_positives_per_hour: float
    rules: dict[str, int] = Field(default_factory=dict)


class RangeScore(BaseModel):
    schema_: Literal["citysoc.range.score/1"] = Field(
        default="citysoc.range.score/1", alias="schema"
    )
    started: datetime
    seconds: float
    bundle: str | None = None
    scenarios: list[ScenarioResult]
    baseline: BaselineResult
    correlation: CorrelationResult | None = None  # incidents scored against the scenarios

    model_config = {"populate_by_name": True}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.passed)

    @property
    def critical(self) -> tuple[int, int]:
        """(passed, total) of the critical scenarios."""
        crit = [s for s in self.scenarios if s.critical]
        return sum(1 for s in crit if s.passed), len(crit)


@dataclass(frozen=True)
class SeenAlert:
    """One alert the SOC raised, as the scoring needs it."""

    alert_id: int
    rule: str  # rule folder name
    agency: str  # whose analysts see it (city analysts see every alert)
    attacker: str | None  # attacker entity ("ip:…") or None
    addresses: frozenset[str]  # source and destination addresses of its evidence
    raised_at: float  # wall time (epoch seconds) the range first saw it
    also: tuple[str, ...] = ()  # other rules that saw the same activity, folded into it

    @property
    def rules(self) -> tuple[str, ...]:
        return (self.rule, *self.also)


@dataclass(frozen=True)
class ScenarioRun:
    """What the range did for one scenario: who attacked whom, and when it started."""

    id: str
    title: str
    technique: str
    critical: bool
    attacker_ip: str
    victim_agency: str
    attacker_agency: str | None
    expected_rules: tuple[str, ...]
    window: float  # seconds after the start within which an expected alert must be raised
    started: float  # wall time


def belongs_to(alert: SeenAlert, run: ScenarioRun) -> bool:
    """An alert is the scenario's when its attacker, or any of its evidence, is the scenario's
    attacker address: every scenario attacks from an address of its own."""
    return alert.attacker == f"ip:{run.attacker_ip}" or run.attacker_ip in alert.addresses


def folded_count(alerts: Sequence[SeenAlert]) -> int:
    """Alerts per attack, storms folded: one per rule and attacker (an alert copied to the
    victim's and the attacker's agency is one alert told twice)."""
    return len({(a.rule, a.attacker or ",".join(sorted(a.addresses))) for a in alerts})


def score_scenario(run: ScenarioRun, alerts: Sequence[SeenAlert]) -> ScenarioResult:
    mine = [a for a in alerts if belongs_to(a, run)]
    in_window = [a for a in mine if a.raised_at - run.started <= run.window]
    expected = [a for a in in_window if set(a.rules) & set(run.expected_rules)]
    told = sorted({a.agency for a in mine})
    first = min((a.raised_at for a in expected), default=None)
    return ScenarioResult(
        id=run.id,
        title=run.title,
        technique=run.technique,
        critical=run.critical,
        victim_agency=run.victim_agency,
        attacker_agency=run.attacker_agency,
        expected_rules=list(run.expected_rules),
        detected=bool(expected),
        rules=sorted({r for a in mine for r in a.rules}),
        agencies_told=told,
        victim_told=run.victim_agency in told,
        attacker_told=None if run.attacker_agency is None else run.attacker_agency in told,
        seconds_to_detect=None if first is None else round(max(0.0, first - run.started), 2),
        alerts=folded_count(mine),
    )


def score_baseline(
    alerts: Sequence[SeenAlert], runs: Sequence[ScenarioRun], simulated_hours: float
) -> BaselineResult:
    """Every alert that belongs to no scenario is a false positive: the only other traffic on
    the range is the benign baseline (and the SOC's own syslog and capture)."""
    noise = [a for a in alerts if not any(belongs_to(a, run) for run in runs)]
    count = folded_count(noise)
    per_rule = Counter(a.rule for a in noise)
    return BaselineResult(
        simulated_hours=simulated_hours,
        alerts=count,
        false_positives_per_hour=round(count / simulated_hours, 3) if simulated_hours else 0.0,
        rules=dict(sorted(per_rule.items())),
    )
