"""Load the rule repository: every Sigma rule folder, validated, with its evidence.

A rule folder is ``detections/<kind>/<area>/<tactic>_<what>/`` holding ``rule.yml`` and the
sample folders ``match/`` and ``nomatch/`` (JSON events; for a correlation rule each file is a
JSON list of events, a whole sequence). Every problem is reported as a :class:`RuleError`
naming the file, and where the YAML parser knows it the line and column.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.core import validators as core_validators

from citysoc.core.errors import Location, RuleError
from detections.engine.attack import REFERENCE, use_offline_attack_data
from detections.engine.translations import read_translations

try:  # libyaml's parser: the same documents, values and errors, about 15 times faster
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

log = logging.getLogger(__name__)

RULES_ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS_ROOT = RULES_ROOT.parent / "runbooks"
SIGMA_KINDS = ("sigma", "correlations")
TACTICS = (
    "reconnaissance", "resource_development", "initial_access", "execution", "persistence",
    "privilege_escalation", "defense_evasion", "credential_access", "discovery",
    "lateral_movement", "collection", "command_and_control", "exfiltration", "impact",
    # ATT&CK for ICS
    "evasion", "inhibit_response_function", "impair_process_control",
)  # fmt: skip
FOLDER_NAME = re.compile(r"^(%s)_[a-z0-9_]+$" % "|".join(TACTICS))  # noqa: UP031
REQUIRED_METADATA = ("owner", "runbook")
VALIDATORS = (
    "all_of_them_condition", "dangling_detection", "them_condition_with_single_detection",
    "duplicate_references", "duplicate_title", "identifier_existence", "identifier_uniqueness",
    "invalid_modifier_combinations", "attacktag", "duplicate_tag", "tag_format",
    "control_character", "double_wildcard", "escaped_wildcard", "wildcards_instead_of_modifiers",
)  # fmt: skip


@dataclass(frozen=True)
class RuleFolder:
    """One rule and the evidence that proves it."""

    path: Path
    rule: SigmaRule | SigmaCorrelationRule
    text: str
    match: tuple[Path, ...]
    nomatch: tuple[Path, ...]

    @property
    def rule_id(self) -> str:
        return str(self.rule.id)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_correlation(self) -> bool:
        return isinstance(self.rule, SigmaCorrelationRule)

    @property
    def area(self) -> str:
        return self.path.parent.name


@dataclass
class Catalog:
    """Every rule of the repository, plus what was wrong with the ones that failed."""

    folders: list[RuleFolder] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def collection(self) -> SigmaCollection:
        """A fresh collection (pipelines mutate rules: parse again for every backend)."""
        rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [
            parse_rule_text(f.text, f.path / "rule.yml") for f in self.folders
        ]
        collection = SigmaCollection(rules)
        collection.resolve_rule_references()
        return collection

    def by_id(self) -> dict[str, RuleFolder]:
        return {f.rule_id: f for f in self.folders}


def rule_folders(root: Path = RULES_ROOT) -> Iterator[Path]:
    for kind in SIGMA_KINDS:
        yield from sorted(p.parent for p in (root / kind).glob("*/*/rule.yml"))


def load_catalog(root: Path = RULES_ROOT, runbooks: Path = RUNBOOKS_ROOT) -> Catalog:
    catalog = Catalog()
    for path in rule_folders(root):
        try:
            catalog.folders.append(load_folder(path, runbooks))
        except RuleError as exc:
            log.error("%s", exc)
            catalog.errors.append(exc)
    _check_collection(catalog)
    return catalog


def parse_rule_text(text: str, source: Path) -> SigmaRule | SigmaCorrelationRule:
    """Parse one rule document; YAML and Sigma errors become :class:`RuleError`."""
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = Location(str(source), line=mark.line + 1, column=mark.column + 1) if mark else None
        raise RuleError(f"invalid YAML: {exc}", location=loc or Location(str(source))) from exc
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a date like 2026-13-01
        raise RuleError(f"unusable YAML value: {exc}", location=Location(str(source))) from exc
    if not isinstance(data, dict):
        raise RuleError("a rule file holds exactly one rule", location=Location(str(source)))
    try:
        if "correlation" in data:
            return SigmaCorrelationRule.from_dict(data)
        return SigmaRule.from_dict(data)
    except SigmaError as exc:
        raise RuleError(f"invalid Sigma rule: {exc}", location=Location(str(source))) from exc
    # pySigma reports some malformed structures with Python's own exception types
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        message = f"invalid Sigma rule: {type(exc).__name__}: {exc}"
        raise RuleError(message, location=Location(str(source))) from exc


def load_folder(path: Path, runbooks: Path = RUNBOOKS_ROOT) -> RuleFolder:
    source = path / "rule.yml"
    text = source.read_text(encoding="utf-8")
    rule = parse_rule_text(text, source)
    where = Location(str(source))
    if not FOLDER_NAME.match(path.name):
        raise RuleError(f"folder name {path.name!r} is not <tactic>_<what>", location=where)
    tactic = FOLDER_NAME.match(path.name).group(1)  # type: ignore[union-attr]
    tags = {str(t) for t in rule.tags or ()}
    if f"attack.{tactic.replace('_', '-')}" not in tags:
        raise RuleError(f"tags lack attack.{tactic.replace('_', '-')}", location=where)
    if not any(re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t) for t in tags):
        raise RuleError("tags name no ATT&CK technique (attack.tNNNN)", location=where)
    if rule.level is None:
        raise RuleError("rule has no level (severity)", location=where)
    attrs = rule.custom_attributes
    for key in REQUIRED_METADATA:
        if not attrs.get(key):
            raise RuleError(f"rule lacks {key!r}", location=where)
    if not (runbooks / str(attrs["runbook"])).is_file():
        raise RuleError(f"runbook {attrs['runbook']!r} not found in {runbooks}", location=where)
    read_translations(attrs, where)  # a malformed translation stops the rule here
    _validate(rule, where)
    match = tuple(sorted((path / "match").glob("*.json")))
    nomatch = tuple(sorted((path / "nomatch").glob("*.json")))
    if not match or not nomatch:
        raise RuleError("rule needs samples in match/ and nomatch/", location=where)
    return RuleFolder(path=path, rule=rule, text=text, match=match, nomatch=nomatch)


def _validate(rule: SigmaRule | SigmaCorrelationRule, where: Location) -> None:
    if not isinstance(rule, SigmaRule):
        return
    use_offline_attack_data()  # the ATT&CK tag validator reads the project's reference
    validator = SigmaValidator([core_validators[name] for name in VALIDATORS])
    issues = validator.validate_rule(rule)
    if issues:
        raise RuleError("; ".join(_describe(i) for i in issues), location=where)


def _describe(issue: object) -> str:
    tag = getattr(issue, "tag", None)
    if type(issue).__name__ == "InvalidATTACKTagIssue" and tag is not None:
        return (
            f"ATT&CK tag {tag} is not in the project's reference {REFERENCE}: "
            "if it is a real ATT&CK id, add it there with its name"
        )
    return str(issue)


def _check_collection(catalog: Catalog) -> None:
    seen: dict[str, Path] = {}
    names: dict[str, Path] = {}
    for folder in list(catalog.folders):
        where = Location(str(folder.path / "rule.yml"))
        if folder.rule_id in seen:
            catalog.errors.append(
                RuleError(f"id also used by {seen[folder.rule_id]}", location=where)
            )
            catalog.folders.remove(folder)
            continue
        seen[folder.rule_id] = folder.path
        if folder.rule.name:
            names[folder.rule.name] = folder.path
    for folder in catalog.folders:
        if isinstance(folder.rule, SigmaCorrelationRule):
            for ref in folder.rule.rules or ():
                if ref.reference not in names and ref.reference not in seen:
                    catalog.errors.append(
                        RuleError(
                            f"correlation refers to unknown rule {ref.reference!r}",
                            location=Location(str(folder.path / "rule.yml")),
                        )
                    )
