"""Reports of the last half-year, made automatically once it has ended and kept.

Every ``interval`` seconds a background thread looks for the reports of the last complete
period (each agency, each framework) not yet under ``<data dir>/compliance/`` and makes
them; what it did and what failed is written to ``schedule.json`` there, which the
Compliance page shows. The policy results and rule proofs are gathered once per run.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.topology import Topology
from eventstore.base import EventStore
from soc_api.audit.anchor import signing_key
from soc_api.compliance.evidence import Context, PolicyResult, RuleOutcome
from soc_api.compliance.frameworks import bundled_frameworks
from soc_api.compliance.period import Period, iso, parse_period
from soc_api.compliance.publish import write_report
from soc_api.compliance.report import build_report

log = logging.getLogger(__name__)
STATUS_FILE = "schedule.json"


def last_complete_period(now: datetime) -> Period:
    """The half-year before the one ``now`` is in."""
    if now.month >= 7:
        return parse_period(f"{now.year}-H1")
    return parse_period(f"{now.year - 1}-H2")


def read_status(folder: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


@dataclass
class ReportSchedule:
    topology: Topology
    sessions: sessionmaker[Session]
    store: EventStore
    data_dir: Path
    interval: float
    policies: Callable[[], list[PolicyResult]] | None
    rules: Callable[[], list[RuleOutcome]]
    pdf: bool
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def folder(self) -> Path:
        return self.data_dir / "compliance"

    def missing(self, period: Period) -> list[tuple[str, str]]:
        return [
            (agency, fw)
            for agency in sorted(self.topology.agencies)
            for fw in sorted(bundled_frameworks())
            if not (self.folder / f"{fw}-{agency}-{period.name}.sig.json").exists()
        ]

    def run_once(self) -> dict[str, Any]:
        """Make the missing reports of the last complete period; record what happened."""
        period = last_complete_period(self.clock())
        policies = functools.cache(self.policies) if self.policies else None
        rules = functools.cache(self.rules)
        made, failures = [], []
        for agency, fw in self.missing(period):
            name = f"{fw}-{agency}-{period.name}"
            ctx = Context(
                topology=self.topology, agency=agency, period=period, sessions=self.sessions,
                store=self.store, data_dir=self.data_dir, policies=policies, rules=rules,
            )  # fmt: skip
            try:
                report = build_report(ctx, bundled_frameworks()[fw])
                write_report(report, self.folder, signing_key(self.data_dir), pdf=self.pdf)
                made.append(name)
            except Exception as exc:  # one report's failure is recorded, the others go on
                log.exception("scheduled report %s failed", name)
                failures.append({"report": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
        status = {"checked_at": iso(self.clock()), "period": period.name,
                  "generated": made, "failures": failures}  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / STATUS_FILE).write_text(json.dumps(status, indent=2), encoding="utf-8")
        if made or failures:
            log.info("scheduled reports of %s: %d made, %d failed", period.name, len(made),
                     len(failures))  # fmt: skip
        return status

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="compliance-reports", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # logged; the next interval tries again
                log.exception("the compliance report schedule failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
