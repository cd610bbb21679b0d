"""Compile third-party Sigma content (the SigmaHQ rules) and account for every rule.

Each rule is reported per target as compiled, or failed with a reason; rules whose log
source citysoc does not collect are counted apart, so the figure that matters (how much of
the content for our log sources works) is not diluted by Windows or cloud rules.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detections.engine.pipeline import is_supported
from detections.engine.targets import TARGETS, backend, convert

log = logging.getLogger(__name__)


@dataclass
class TargetReport:
    target: str
    compiled: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return self.compiled + sum(self.failed.values())

    @property
    def fraction(self) -> float:
        return self.compiled / self.attempted if self.attempted else 0.0

    def fail(self, reason: str, path: str) -> None:
        self.failed[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(path)


@dataclass
class CorpusReport:
    root: Path
    files: int = 0
    parse_errors: Counter[str] = field(default_factory=Counter)
    supported: int = 0
    unsupported: Counter[str] = field(default_factory=Counter)
    targets: dict[str, TargetReport] = field(default_factory=dict)


def _logsource(rule: SigmaRule | SigmaCorrelationRule) -> dict[str, str | None]:
    if isinstance(rule, SigmaCorrelationRule):
        return {}
    ls = rule.logsource
    return {"product": ls.product, "category": ls.category, "service": ls.service}


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0]
    text = re.sub(r"\s*\(while (converting|processing) rule .*\)$", "", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    return f"{type(exc).__name__}: {text[:120]}"


def _load(root: Path, report: CorpusReport) -> list[tuple[str, SigmaRule | SigmaCorrelationRule]]:
    rules: list[tuple[str, SigmaRule | SigmaCorrelationRule]] = []
    for path in sorted(root.rglob("*.yml")):
        report.files += 1
        try:
            parsed = SigmaCollection.from_yaml(path.read_text(encoding="utf-8")).rules
        except (SigmaError, ValueError) as exc:
            report.parse_errors[_reason(exc)] += 1
            log.warning("%s: cannot parse: %s", path, exc)
            continue
        rules += [
            (str(path.relative_to(root)), r) for r in parsed if not hasattr(r, "global_filter")
        ]
    return rules


def compile_corpus(root: Path, targets: tuple[str, ...] = tuple(TARGETS)) -> CorpusReport:
    """Try every rule under ``root`` on every target."""
    report = CorpusReport(root=root)
    rules = _load(root, report)
    kept: list[tuple[str, SigmaRule | SigmaCorrelationRule]] = []
    for path, rule in rules:
        source = _logsource(rule)
        if isinstance(rule, SigmaRule) and not is_supported(source):
            name = "/".join(v for v in source.values() if v) or "none"
            report.unsupported[name] += 1
            continue
        kept.append((path, rule))
    report.supported = len(kept)
    for target in targets:
        result = report.targets[target] = TargetReport(target)
        texts = [(p, (root / p).read_text(encoding="utf-8")) for p, _ in kept]
        for path, text in texts:
            # pipelines mutate rules: parse afresh for every target
            for rule in SigmaCollection.from_yaml(text).rules:
                try:
                    queries = convert(backend(target), rule)
                except (SigmaError, NotImplementedError, ValueError, TypeError) as exc:
                    result.fail(_reason(exc), path)
                    continue
                if queries:
                    result.compiled += 1
                else:
                    result.fail("no query produced", path)
    return report
