"""Frameworks as data: one YAML file per legal text, loaded and validated here.

A requirement names its article or clause, the levels it applies to, its wording in
Vietnamese and English, and how it is evidenced: named automatic checks, or a manual
attestation. A bad file raises :class:`ComplianceError` with the file and line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from citysoc.core.errors import ConfigError, Location

FRAMEWORKS_DIR = Path(__file__).parent / "frameworks"


class ComplianceError(ConfigError):
    """A framework, period, agency or report is unknown or malformed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Wording(_Frozen):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Evidenced(_Frozen):
    """Either automatic checks (by name) or an attestation to upload, never both."""

    checks: tuple[str, ...] = ()
    attestation: str = ""

    @model_validator(mode="after")
    def _one_way(self) -> Evidenced:
        if bool(self.checks) == bool(self.attestation):
            raise ValueError("give either 'checks' or 'attestation'")
        return self


class Requirement(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,47}$")
    ref: str = Field(min_length=3, description="Article, clause or annex it comes from.")
    certainty: Literal["sure", "unsure"]
    note: str = ""
    levels: tuple[int, ...] = Field(min_length=1)
    text: Wording
    evidence: Evidenced

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: tuple[int, ...]) -> tuple[int, ...]:
        if not set(levels) <= {1, 2, 3, 4, 5}:
            raise ValueError(f"levels must be within 1-5, got {list(levels)}")
        return levels


class Framework(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9]{1,31}$")
    title: Wording
    sources: tuple[str, ...] = Field(min_length=1)
    requirements: tuple[Requirement, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Framework:
        ids = [r.id for r in self.requirements]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"requirement ids repeat: {dupes}")
        return self


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line of the YAML node at ``loc`` (a pydantic error location), when found."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_framework(text: str, source: Path) -> Framework:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ComplianceError(f"not YAML: {exc}", location=Location(str(source), line)) from exc
    try:
        framework = Framework.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line = _line_of(text, tuple(first["loc"]))
        raise ComplianceError(
            f"{where or 'file'}: {first['msg']}", location=Location(str(source), line)
        ) from exc
    if framework.id != source.stem:
        raise ComplianceError(
            f"id {framework.id!r} differs from the file name", location=Location(str(source), 1)
        )
    return framework


def load_frameworks(folder: Path = FRAMEWORKS_DIR) -> dict[str, Framework]:
    """Every framework of the folder, by id."""
    return {
        path.stem: parse_framework(path.read_text(encoding="utf-8"), path)
        for path in sorted(folder.glob("*.yml"))
    }


@lru_cache(maxsize=1)
def bundled_frameworks() -> dict[str, Framework]:
    return load_frameworks()


def framework(name: str) -> Framework:
    known = bundled_frameworks()
    if name not in known:
        raise ComplianceError(f"unknown framework {name!r}; known: {', '.join(sorted(known))}")
    return known[name]
