"""A compliance report: a framework's requirements for one agency and period, each with a
status decided by the evidence its checks gathered.

The report is a plain dictionary with a stable schema (:data:`SCHEMA`); every value in it
comes from the inputs, and its one time is the period's end, so the same inputs give the
same report.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Literal

from soc_api.compliance import (  # noqa: F401 (register the checks)
    checks_flow,
    checks_release,
    checks_state,
    checks_topology,
)
from soc_api.compliance.attestations import load as load_attestations
from soc_api.compliance.evidence import CHECKS, Context, Evidence, Status
from soc_api.compliance.frameworks import ComplianceError, Framework, Requirement

log = logging.getLogger(__name__)

SCHEMA = "citysoc.compliance.report/1"
Lang = Literal["vi", "en"]
LANGS: tuple[str, ...] = ("vi", "en")


def check_agency(ctx: Context) -> None:
    if ctx.agency not in ctx.topology.agencies:
        known = ", ".join(sorted(ctx.topology.agencies))
        raise ComplianceError(f"unknown agency {ctx.agency!r}; agencies: {known}")


def _levels_of(ctx: Context) -> set[int]:
    levels = {s.security_level for s in ctx.segments()}
    return levels | {sys.security_level for s in ctx.segments() for sys in s.systems}


def decide(
    requirement: Requirement,
    levels: set[int],
    evidence: dict[str, Evidence],
    attested: bool = False,
) -> Status:
    """A requirement's status from the levels it applies to and its checks' results, or
    whether an attestation was uploaded for it."""
    if not levels & set(requirement.levels):
        return Status.NOT_APPLICABLE
    if requirement.evidence.attestation:
        return Status.MET if attested else Status.NEEDS_ATTESTATION
    results = {evidence[name].status for name in requirement.evidence.checks}
    if results == {Status.MET}:
        return Status.MET
    if results == {Status.NOT_MET}:
        return Status.NOT_MET
    return Status.PARTLY_MET


def build_report(ctx: Context, framework: Framework, lang: Lang = "vi") -> dict[str, Any]:
    """The report of ``framework`` for ``ctx``'s agency and period."""
    check_agency(ctx)
    if lang not in LANGS:
        raise ComplianceError(f"unknown language {lang!r}; languages: {', '.join(LANGS)}")
    levels = _levels_of(ctx)
    wanted = sorted({c for r in framework.requirements for c in r.evidence.checks})
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        raise ComplianceError(f"framework {framework.id} names unknown checks {unknown}")
    evidence = {name: CHECKS[name](ctx) for name in wanted}
    attested, broken = (
        load_attestations(ctx.data_dir, ctx.agency, ctx.period, framework.id)
        if ctx.data_dir is not None
        else ({}, {})
    )
    requirements = []
    for req in framework.requirements:
        records = attested.get(req.id, []) if req.evidence.attestation else []
        status = decide(req, levels, evidence, bool(records))
        findings = (
            [f"{name}: {f}" for name in req.evidence.checks for f in evidence[name].findings]
            if status is not Status.NOT_APPLICABLE
            else []
        )
        findings += broken.get(req.id, []) if req.evidence.attestation else []
        requirements.append(
            {
                "id": req.id,
                "ref": req.ref,
                "certainty": req.certainty,
                "note": req.note,
                "levels": list(req.levels),
                "text": {"vi": req.text.vi, "en": req.text.en},
                "checks": list(req.evidence.checks),
                "attestation": req.evidence.attestation,
                "status": status.value,
                "findings": findings,
                "attestations": [r.model_dump() for r in records],
            }
        )
    agency = ctx.topology.agencies[ctx.agency]
    summary = Counter(r["status"] for r in requirements)
    return {
        "schema": SCHEMA,
        "lang": lang,
        "framework": {
            "id": framework.id,
            "title": {"vi": framework.title.vi, "en": framework.title.en},
            "sources": list(framework.sources),
        },
        "city": ctx.topology.model.city,
        "agency": {"id": agency.id, "name": agency.name, "name_vi": agency.name_vi},
        "period": {
            "name": ctx.period.name,
            "start": ctx.period.start_iso,
            "end": ctx.period.end_iso,
        },
        "generated_at": ctx.at,
        "levels": sorted(levels),
        "summary": {s.value: summary.get(s.value, 0) for s in Status},
        "requirements": requirements,
        "evidence": {name: e.model_dump(mode="json") for name, e in evidence.items()},
    }
