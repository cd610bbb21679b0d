"""Prove rules on their evidence: each must fire on every ``match/`` sample and stay quiet on
every ``nomatch/`` sample, on the embedded backend, exactly as the scheduler runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sigma.correlations import SigmaCorrelationRule

from citysoc.core.ecs import Event, event_id, parse_timestamp
from citysoc.core.errors import Location, RuleError
from detections.engine.catalog import Catalog, RuleFolder
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.proof import Proof, prove_samples
from detections.engine.runner import DetectionRunner
from eventstore.sqlite import SqliteEventStore

SAMPLE_TIME = "2026-11-20T02:00:00.000Z"


RuleProof = Proof[RuleFolder]


def load_sample(path: Path) -> list[Event]:
    """A sample file: one event object, or a list of events (a sequence)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RuleError(
            f"sample is not JSON: {exc.msg}",
            location=Location(str(path), line=exc.lineno, column=exc.colno),
        ) from exc
    events = data if isinstance(data, list) else [data]
    out = []
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise RuleError("a sample event must be a JSON object", location=Location(str(path)))
        filled = {k: v for k, v in event.items() if v is not None}
        filled.setdefault("@timestamp", SAMPLE_TIME)
        try:
            parse_timestamp(str(filled["@timestamp"]))
        except ValueError as exc:
            raise RuleError(
                f"event {i}: @timestamp {filled['@timestamp']!r} is not a valid time: {exc}",
                location=Location(str(path)),
            ) from exc
        filled.setdefault("event.id", event_id(path.name, i))
        out.append(filled)
    return out


def with_references(catalog: Catalog, folder: RuleFolder) -> list[RuleFolder]:
    """The folder and every rule it correlates, directly or through other correlations."""
    members, pending = [folder], [folder]
    while pending:
        rule = pending.pop().rule
        if not isinstance(rule, SigmaCorrelationRule):
            continue
        refs = {r.reference for r in rule.rules or ()}
        for other in catalog.folders:
            if other not in members and (other.rule.name in refs or other.rule_id in refs):
                members.append(other)
                pending.append(other)
    return members


def compile_folder(catalog: Catalog, folder: RuleFolder) -> CompiledRule:
    """The rule compiled as the scheduler would run it (with the rules it correlates)."""
    result = compile_catalog(Catalog(folders=with_references(catalog, folder)))
    if result.errors:
        raise result.errors[0]
    for rule in result.rules:
        if rule.rule_id == folder.rule_id:
            return rule
    raise RuleError("rule compiled to nothing", location=Location(str(folder.path / "rule.yml")))


def fires(rule: CompiledRule, events: list[Event]) -> bool:
    with SqliteEventStore(Path(":memory:")) as store:
        store.write(events)
        report = DetectionRunner(store, [rule]).run(0, store.head())
    if report.rule_errors:
        raise RuleError(f"rule failed on the store: {report.rule_errors[rule.rule_id]}")
    return bool(report.hits)


def prove(catalog: Catalog, folder: RuleFolder) -> RuleProof:
    rule = compile_folder(catalog, folder)
    return prove_samples(
        folder, folder.match, folder.nomatch, lambda sample: fires(rule, load_sample(sample))
    )
