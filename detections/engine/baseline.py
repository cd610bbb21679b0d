"""Run every rule over the benign baseline and hold the result against the reviewed list of
known false positives (``detections/baseline/known_false_positives.yml``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from citysoc.core.ecs import Event
from detections.engine.compiler import CompiledRule
from detections.engine.runner import DetectionRunner
from eventstore.sqlite import SqliteEventStore

KNOWN_FALSE_POSITIVES = (
    Path(__file__).resolve().parent.parent / "baseline" / "known_false_positives.yml"
)


class KnownFalsePositive(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    max_hits: int = Field(ge=1)
    justification: str = Field(min_length=20)
    reviewed: date


@dataclass
class BaselineReport:
    events: int
    hits: Counter[str] = field(default_factory=Counter)
    unexplained: dict[str, int] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.unexplained and not self.stale


def load_known(path: Path = KNOWN_FALSE_POSITIVES) -> dict[str, KnownFalsePositive]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    known = [KnownFalsePositive.model_validate(e) for e in entries]
    return {k.rule: k for k in known}


def check_baseline(
    events: list[Event], rules: list[CompiledRule], known: dict[str, KnownFalsePositive]
) -> BaselineReport:
    """Hits of every rule on the baseline events, and which of them are not accepted."""
    with SqliteEventStore(Path(":memory:")) as store:
        store.write(events)
        run = DetectionRunner(store, rules).run(0, store.head())
    report = BaselineReport(events=run.events_scanned)
    report.hits.update(hit.rule.name for hit in run.hits)
    for name, count in report.hits.items():
        allowed = known.get(name)
        if allowed is None or count > allowed.max_hits:
            report.unexplained[name] = count
    report.stale = sorted(set(known) - set(report.hits))
    return report
