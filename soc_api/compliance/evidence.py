"""Evidence: what a check found, with the query that found it, its time and a SHA-256.

A check is a function of a :class:`Context` (one agency, one period) returning one
:class:`Evidence`. Missing data is never a crash: the check returns ``not_met`` (or
``partly_met``) with a finding that says what is missing. The registry :data:`CHECKS`
is what framework files name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.canonical import canonical
from citysoc.core.topology import Segment, Topology
from eventstore.base import EventStore
from soc_api.compliance.period import Period

log = logging.getLogger(__name__)


class Status(StrEnum):
    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"
    NEEDS_ATTESTATION = "needs_attestation"


class Evidence(BaseModel):
    check: str
    query: str
    at: str
    status: Status
    findings: list[str]
    data: dict[str, Any]
    sha256: str = ""

    def sealed(self) -> Evidence:
        """This evidence with ``sha256`` over the canonical JSON of everything else."""
        body = self.model_dump(mode="json", exclude={"sha256"})
        digest = hashlib.sha256(canonical(body)).hexdigest()
        return self.model_copy(update={"sha256": digest})


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    mandatory: bool
    violations: tuple[str, ...]


@dataclass(frozen=True)
class RuleOutcome:
    """A detection rule and whether it passed its own tests (fired on its match samples,
    stayed quiet on its nomatch samples)."""

    name: str
    area: str
    techniques: tuple[str, ...]
    proven: bool


@dataclass
class Context:
    """Everything a check may read for one agency and one period."""

    topology: Topology
    agency: str
    period: Period
    sessions: sessionmaker[Session] | None = None
    store: EventStore | None = None
    data_dir: Path | None = None
    policies: Callable[[], list[PolicyResult]] | None = None
    rules: Callable[[], list[RuleOutcome]] | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> str:
        """Evidence time: the period's end, so the same inputs give the same report."""
        return self.period.end_iso

    def segments(self) -> list[Segment]:
        return sorted(
            (s for s in self.topology.model.segments if s.agency == self.agency),
            key=lambda s: s.id,
        )

    def max_level(self) -> int:
        levels = [s.security_level for s in self.segments()]
        levels += [sys.security_level for s in self.segments() for sys in s.systems]
        return max(levels, default=0)

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


Check = Callable[[Context], Evidence]
Finder = Callable[[Context], tuple[Status, list[str], dict[str, Any]]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Finder], Check]:
    """Register a check under ``name``; its docstring says what it reads (the evidence's
    query, for the auditor)."""

    def register(func: Finder) -> Check:
        query = " ".join((func.__doc__ or "").split())

        def run(ctx: Context) -> Evidence:
            try:
                status, findings, data = func(ctx)
            except Exception as exc:  # missing evidence is a finding, never a crash
                log.exception("check %s failed for %s %s", name, ctx.agency, ctx.period.name)
                status, findings, data = (
                    Status.NOT_MET,
                    [f"evidence could not be gathered: {type(exc).__name__}: {exc}"],
                    {},
                )
            return Evidence(
                check=name, query=query, at=ctx.at, status=status, findings=findings, data=data
            ).sealed()

        CHECKS[name] = run
        return run

    return register


def ratio_status(good: int, total: int) -> Status:
    if total == 0 or good == 0:
        return Status.NOT_MET
    return Status.MET if good == total else Status.PARTLY_MET
