"""The modules compiled to C with mypyc, and when their compiled form is used.

The EVE hot path (parsing, field mapping, enrichment) is strictly typed Python that mypyc
compiles into C extension modules beside the sources: each event then costs about a quarter
less CPU to parse. The compiled form is optional. ``citysoc native`` builds it
(``scripts/bootstrap.sh`` runs that); without a C compiler the same modules run as Python.

A compiled module is used only if it was built from the source beside it: the build records
each source's SHA-256 in ``native-build.json`` in its package, and the package's ``__init__``
calls :func:`prefer_fresh`: if a source has changed since (or no record vouches for it), the
whole build is passed over and the sources imported instead, with a warning. An edited module
is never run from an older build.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import IO

from citysoc.core.errors import CitysocError

log = logging.getLogger(__name__)

MODULES = ("collectors.eve", "collectors.eve_fields", "collectors.enrich")
GROUP = "collectors.native"  # the runtime mypyc shares between them: collectors/native__mypyc
MANIFEST = "native-build.json"
ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path("build") / "native"


class NativeBuildError(CitysocError):
    """The modules could not be compiled (they still run as Python)."""


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compiled_files(source: Path) -> list[Path]:
    """The extension modules that Python would import instead of ``source``."""
    stem = source.with_suffix("")
    return [
        Path(f"{stem}{suffix}")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if Path(f"{stem}{suffix}").exists()
    ]


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Imports the named modules from their sources, whatever lies beside them."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def prefer_fresh(package: str, directory: str, modules: Sequence[str] = MODULES) -> list[str]:
    """Pass over the compiled modules of ``package`` if one is stale; the names passed over.

    They were compiled together and call each other directly, in C: one changed source makes
    the whole build unusable. Called from the package's ``__init__``, before its modules.
    """
    here = Path(directory)
    try:
        recorded: dict[str, str] = json.loads((here / MANIFEST).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = {}
    compiled: dict[str, Path] = {}
    changed = []
    for name in modules:
        parent, _, leaf = name.rpartition(".")
        source = here / f"{leaf}.py"
        if parent == package and source.exists() and compiled_files(source):
            compiled[name] = source
            if recorded.get(name) != source_digest(source):
                changed.append(name)
    if not changed:
        return []
    log.warning(
        "%s changed since it was compiled: running %s as Python (slower); "
        "rebuild with: citysoc native",
        ", ".join(changed),
        ", ".join(compiled),
    )
    sys.meta_path.insert(0, _SourceFinder(compiled))
    return list(compiled)


def compiled_modules(modules: Sequence[str] = MODULES) -> list[str]:
    """Those of ``modules`` that run compiled here (importing them)."""
    names = []
    for name in modules:
        module = importlib.import_module(name)
        if not str(module.__file__).endswith(".py"):
            names.append(name)
    return names


def _sources(root: Path) -> dict[str, Path]:
    return {name: root / (name.replace(".", "/") + ".py") for name in MODULES}


def is_built(root: Path = ROOT) -> bool:
    """Whether every module is compiled from its current source."""
    for name, source in _sources(root).items():
        manifest = source.parent / MANIFEST
        try:
            recorded = json.loads(manifest.read_text())["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not compiled_files(source) or recorded.get(name) != source_digest(source):
            return False
    return True


def build(root: Path = ROOT) -> Path:
    """Compile :data:`MODULES` with mypyc into their packages, and record their sources.

    Needs mypy (which ships mypyc), setuptools and a C compiler with Python's headers: the
    optional extra ``native``. Returns the log of the compiler's output; raises
    :class:`NativeBuildError` with its end if compiling failed.
    """
    log_path = root / BUILD_DIR / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sources = _sources(root)
    for manifest in {source.parent / MANIFEST for source in sources.values()}:
        manifest.unlink(missing_ok=True)  # what is being rebuilt is vouched for by nothing
    try:
        with contextlib.chdir(root), log_path.open("w") as out, _redirected(out):
            _compile([str(source.relative_to(root)) for source in sources.values()])
    except (Exception, SystemExit) as exc:  # setuptools exits on a compiler error
        tail = log_path.read_text(errors="replace")[-3000:]
        raise NativeBuildError(f"{tail}\nmypyc could not compile ({exc}); see {log_path}") from exc
    by_package: dict[Path, dict[str, str]] = {}
    for name, source in sources.items():
        by_package.setdefault(source.parent, {})[name] = source_digest(source)
    for directory, digests in by_package.items():
        record = {"compiler": "mypyc", "python": sys.version.split()[0], "sources": digests}
        (directory / MANIFEST).write_text(json.dumps(record, indent=1) + "\n")
    return log_path


def _compile(paths: list[str]) -> None:
    from mypyc.build import mypycify  # only here: the optional extra ``native``
    from setuptools import setup  # type: ignore[import-untyped]

    setup(
        name="citysoc-native",
        packages=[],
        py_modules=[],
        ext_modules=mypycify(
            paths, opt_level="3", group_name=GROUP, target_dir=str(BUILD_DIR / "c")
        ),
        script_args=[
            "build_ext",
            "--inplace",
            f"--build-temp={BUILD_DIR / 'temp'}",
            f"--build-lib={BUILD_DIR / 'lib'}",
        ],
    )


def clean(root: Path = ROOT) -> list[Path]:
    """Remove the compiled modules and their records; the files removed."""
    removed = []
    group_parent, _, group_leaf = GROUP.rpartition(".")
    runtime = root / group_parent.replace(".", "/") / f"{group_leaf}__mypyc.py"
    for source in [*_sources(root).values(), runtime]:
        for path in [*compiled_files(source), source.parent / MANIFEST]:
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def _redirected(out: IO[str]) -> Iterator[None]:
    """File descriptors 1 and 2 into ``out``: the C compiler writes to them directly."""
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved_fd in zip((1, 2), saved, strict=True):
            os.dup2(saved_fd, fd)
            os.close(saved_fd)
