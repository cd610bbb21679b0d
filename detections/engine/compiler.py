"""Compile the rule catalog with pySigma, to the embedded SQLite backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from citysoc.core.errors import Location, RuleError
from detections.engine.catalog import Catalog
from detections.engine.targets import Backend, backend, convert
from detections.engine.translations import Translation, read_translations

log = logging.getLogger(__name__)

DEFAULT_ENTITY = ("source.ip",)
DEFAULT_ATTACKER = "source.ip"
DEFAULT_VICTIM = "destination.ip"


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    name: str
    title: str
    level: str
    kind: str  # "event" or "correlation"
    sql: str
    fields: tuple[str, ...]
    entity: tuple[str, ...]
    timespan_seconds: int = 0
    tags: tuple[str, ...] = ()
    owner: str = ""
    runbook: str = ""
    description: str = ""
    author: str = ""
    attacker: str = DEFAULT_ATTACKER  # the field naming who acts (rule attribute ``attacker``)
    victim: str = DEFAULT_VICTIM  # the field naming whom it reaches (rule attribute ``victim``)
    translations: tuple[Translation, ...] = ()  # (language, title, description)


@dataclass
class Compilation:
    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)


def _fields(sqlite: Backend, rule: SigmaRule | SigmaCorrelationRule) -> set[str]:
    if isinstance(rule, SigmaRule):
        return set(sqlite.required_fields(rule))
    found = set(rule.group_by or ())
    fieldref = getattr(rule.condition, "fieldref", None)
    if isinstance(fieldref, str):
        found.add(fieldref)
    elif isinstance(fieldref, list):
        found.update(fieldref)
    for ref in rule.rules or ():
        found |= _fields(sqlite, ref.rule)
    return found


def _lookback(rule: SigmaCorrelationRule) -> int:
    """How far back a correlation needs events: its timespan plus its nested correlations'."""
    nested = [
        _lookback(ref.rule)
        for ref in rule.rules or ()
        if isinstance(ref.rule, SigmaCorrelationRule)
    ]
    return rule.timespan.seconds + max(nested, default=0)


def compile_catalog(catalog: Catalog) -> Compilation:
    """Every generating rule of the catalog as one SQLite query each."""
    result = Compilation()
    folders = catalog.by_id()
    sqlite = backend("sqlite")
    for rule in catalog.collection().rules:
        folder = folders.get(str(rule.id))
        where = Location(str(folder.path / "rule.yml")) if folder else Location(str(rule.id))
        try:
            queries = convert(sqlite, rule)
        except SigmaError as exc:
            result.errors.append(RuleError(f"does not compile to SQLite: {exc}", location=where))
            continue
        if not queries:  # a rule referenced by a correlation generates no alerts of its own
            continue
        attrs = rule.custom_attributes
        correlation = isinstance(rule, SigmaCorrelationRule)
        if isinstance(rule, SigmaCorrelationRule):
            entity, timespan = tuple(rule.group_by or ()), _lookback(rule)
        else:
            entity, timespan = tuple(attrs.get("entity") or DEFAULT_ENTITY), 0
        result.rules.append(
            CompiledRule(
                rule_id=str(rule.id),
                name=folder.name if folder else str(rule.name or rule.id),
                title=rule.title,
                level=rule.level.name.lower() if rule.level else "medium",
                kind="correlation" if correlation else "event",
                sql=str(queries[-1]),
                fields=tuple(sorted(_fields(sqlite, rule) | set(entity))),
                entity=entity,
                timespan_seconds=timespan,
                tags=tuple(str(t) for t in rule.tags or ()),
                owner=str(attrs.get("owner", "")),
                runbook=str(attrs.get("runbook", "")),
                description=rule.description or "",
                author=rule.author or "",
                attacker=str(attrs.get("attacker") or DEFAULT_ATTACKER),
                victim=str(attrs.get("victim") or DEFAULT_VICTIM),
                translations=read_translations(attrs, where),
            )
        )
    log.debug("compiled %d rules to SQLite (%d errors)", len(result.rules), len(result.errors))
    return result
