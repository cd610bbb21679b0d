"""YARA rules beside their evidence: load, validate, compile and prove them.

A rule folder is ``detections/yara/<area>/<tactic>_<what>/`` holding ``rule.yar`` (one rule
whose identifier is the folder name) and the sample folders ``match/`` and ``nomatch/``
(synthetic or defanged files, never live malware). Every problem is a :class:`RuleError`
naming the file, and for syntax errors the line YARA reports.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yara  # type: ignore[import-not-found]  # yara-python ships no type hints

from citysoc.core.errors import Location, RuleError
from detections.engine.catalog import FOLDER_NAME, RULES_ROOT, RUNBOOKS_ROOT
from detections.engine.proof import Proof, prove_samples

log = logging.getLogger(__name__)

YARA_ROOT = RULES_ROOT / "yara"
REQUIRED_META = ("id", "description", "author", "owner", "runbook", "attack", "severity")
SEVERITIES = ("low", "medium", "high", "critical")
TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
YARA_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True)
class YaraRuleFolder:
    """One YARA rule, compiled, with the samples that prove it."""

    path: Path
    text: str
    meta: dict[str, str]
    compiled: yara.Rules
    match: tuple[Path, ...]
    nomatch: tuple[Path, ...]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def techniques(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.meta["attack"].split(","))


@dataclass
class YaraCatalog:
    folders: list[YaraRuleFolder] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def sources(self) -> dict[str, str]:
        """Every rule's source by namespace (its folder name), for one combined compile."""
        return {f.name: f.text for f in self.folders}


YaraProof = Proof["YaraRuleFolder"]


def yara_folders(root: Path = YARA_ROOT) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/rule.yar"))


def load_yara_catalog(root: Path = YARA_ROOT, runbooks: Path = RUNBOOKS_ROOT) -> YaraCatalog:
    catalog = YaraCatalog()
    ids: dict[str, Path] = {}
    for path in yara_folders(root):
        try:
            folder = load_yara_folder(path, runbooks)
        except RuleError as exc:
            log.error("%s", exc)
            catalog.errors.append(exc)
            continue
        rule_id = folder.meta["id"]
        if rule_id in ids:
            where = Location(str(path / "rule.yar"))
            catalog.errors.append(RuleError(f"id also used by {ids[rule_id]}", location=where))
            continue
        ids[rule_id] = path
        catalog.folders.append(folder)
    return catalog


def compile_source(text: str, source: Path) -> yara.Rules:
    """Compile one rule file; syntax errors carry the file and YARA's line number."""
    try:
        return yara.compile(source=text)
    except yara.SyntaxError as exc:
        found = YARA_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        where = Location(str(source), line=line)
        raise RuleError(f"YARA syntax error: {exc}", location=where) from exc


def load_yara_folder(path: Path, runbooks: Path = RUNBOOKS_ROOT) -> YaraRuleFolder:
    source = path / "rule.yar"
    where = Location(str(source))
    text = source.read_text(encoding="utf-8")
    compiled = compile_source(text, source)
    rules = list(compiled)
    if len(rules) != 1:
        raise RuleError(f"a rule file holds exactly one rule, found {len(rules)}", location=where)
    if not FOLDER_NAME.match(path.name):
        raise RuleError(f"folder name {path.name!r} is not <tactic>_<what>", location=where)
    if rules[0].identifier != path.name:
        raise RuleError(f"rule is named {rules[0].identifier!r}, not {path.name!r}", location=where)
    meta = {str(k): str(v) for k, v in rules[0].meta.items()}
    _check_meta(meta, runbooks, where)
    match = tuple(sorted(p for p in (path / "match").glob("*") if p.is_file()))
    nomatch = tuple(sorted(p for p in (path / "nomatch").glob("*") if p.is_file()))
    if not match or not nomatch:
        raise RuleError("rule needs samples in match/ and nomatch/", location=where)
    return YaraRuleFolder(path, text, meta, compiled, match, nomatch)


def _check_meta(meta: dict[str, str], runbooks: Path, where: Location) -> None:
    missing = [key for key in REQUIRED_META if not meta.get(key)]
    if missing:
        raise RuleError(f"meta lacks {', '.join(missing)}", location=where)
    if meta["author"] != "citysoc":
        raise RuleError(f"author is {meta['author']!r}, not 'citysoc'", location=where)
    if meta["severity"] not in SEVERITIES:
        raise RuleError(f"severity {meta['severity']!r} is not one of {SEVERITIES}", location=where)
    bad = [t for t in meta["attack"].split(",") if not TECHNIQUE.match(t.strip())]
    if bad:
        raise RuleError(f"attack names no ATT&CK technique id: {bad}", location=where)
    if not (runbooks / meta["runbook"]).is_file():
        raise RuleError(f"runbook {meta['runbook']!r} not found in {runbooks}", location=where)


def matches(rules: yara.Rules, data: bytes) -> list[str]:
    """Names of the rules that match ``data``."""
    return [m.rule for m in rules.match(data=data)]


def prove_yara(folder: YaraRuleFolder) -> YaraProof:
    return prove_samples(
        folder,
        folder.match,
        folder.nomatch,
        lambda sample: bool(matches(folder.compiled, sample.read_bytes())),
    )


def compile_catalog_rules(catalog: YaraCatalog) -> yara.Rules:
    """All rules in one compiled set (what the file collector scans with)."""
    return yara.compile(sources=catalog.sources())
