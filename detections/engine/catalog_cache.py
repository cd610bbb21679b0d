"""The rule catalog compiled to SQLite, kept per process for the same rule files.

Loading and compiling is a pure function of the files it reads: each rule folder's files (the
rule's text, its samples), the runbooks the rules name and the project's ATT&CK reference. A
process that builds several SOC contexts (a test run builds hundreds, one per test) compiles
once per distinct content of those files; a process that builds one pays only the fingerprint
(listing those folders and reading the rule files once more: milliseconds). What is kept is
immutable: frozen :class:`CompiledRule` values in tuples, and the errors as they were found;
each caller gets its own lists of them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from citysoc.core.errors import RuleError
from detections.engine.attack import REFERENCE
from detections.engine.catalog import RULES_ROOT, RUNBOOKS_ROOT, SIGMA_KINDS, load_catalog
from detections.engine.compiler import Compilation, CompiledRule, compile_catalog

log = logging.getLogger(__name__)

KEEP = 4  # distinct rule sets kept at once; a process normally has one


@dataclass(frozen=True)
class CompiledCatalog:
    """Every generating rule as SQL, and every problem of loading or compiling the rules."""

    rules: tuple[CompiledRule, ...]
    errors: tuple[RuleError, ...]


_kept: dict[tuple[str, str, str], CompiledCatalog] = {}
_lock = threading.Lock()


def fingerprint(root: Path = RULES_ROOT, runbooks: Path = RUNBOOKS_ROOT) -> str:
    """A digest of everything :func:`load_catalog` reads: the name of each file under the rule
    kinds' folders and the content of each ``rule.yml`` (of the samples it reads only their
    names), the runbooks' names and the ATT&CK reference."""
    digest = hashlib.sha256()
    for kind in SIGMA_KINDS:
        for folder, names in _walk(root / kind):
            digest.update(f"\0folder\0{folder}\0{'/'.join(names)}\0".encode())
            if "rule.yml" in names:
                digest.update(Path(folder, "rule.yml").read_bytes())
    for folder, names in _walk(runbooks):
        digest.update(f"\0runbooks\0{folder}\0{'/'.join(names)}\0".encode())
    digest.update(b"\0reference\0" + REFERENCE.read_bytes())
    return digest.hexdigest()


def _walk(top: Path) -> list[tuple[str, list[str]]]:
    """Each folder under ``top`` with the sorted names it holds, in a stable order."""
    found = []
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        found.append((folder, sorted(dirs + files)))
    return found


def compiled_catalog(root: Path = RULES_ROOT, runbooks: Path = RUNBOOKS_ROOT) -> Compilation:
    """The catalog under ``root`` compiled to SQLite, in lists of the caller's own: its rules,
    and the errors of loading and of compiling it. From this process's earlier compilation of
    the same files if there is one, else loaded and compiled now."""
    kept = kept_compilation(root, runbooks)
    return Compilation(rules=list(kept.rules), errors=list(kept.errors))


def kept_compilation(root: Path, runbooks: Path) -> CompiledCatalog:
    key = (str(root.resolve()), str(runbooks.resolve()), fingerprint(root, runbooks))
    with _lock:
        found = _kept.get(key)
        if found is not None:
            log.debug("rule catalog %s unchanged: compiled rules reused", key[2][:12])
            return found
        catalog = load_catalog(root, runbooks)
        compilation = compile_catalog(catalog)
        found = CompiledCatalog(
            rules=tuple(compilation.rules), errors=(*catalog.errors, *compilation.errors)
        )
        if len(_kept) >= KEEP:
            _kept.pop(next(iter(_kept)))
        _kept[key] = found
        return found
