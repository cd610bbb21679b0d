"""Modules compiled to C with mypyc, and when their compiled form is used.

A package names its hot modules once, as a :class:`NativeBuild` in its ``__init__`` (the
collectors: the EVE parser, its field mappers and the enricher). They are strictly typed
Python that mypyc compiles into C extension modules beside the sources: for the EVE parser,
a quarter less CPU per line. The compiled form is optional. ``citysoc native`` builds it
(``scripts/bootstrap.sh`` runs that); without a C compiler the same modules run as Python.

A build is used only if it was made from the sources beside it: it records each source's
SHA-256 in ``native-build.json`` in the package, and :meth:`NativeBuild.prefer_fresh`, called
by the package's ``__init__`` before any of its modules is imported, passes the whole build
over for the sources (with a warning) if one of them changed since or no record vouches for
it. The modules of one build call each other directly, in C, so one changed source makes all
of it unusable. An edited module is never run from an older build.

A build is also kept in a cache outside the checkout (``CITYSOC_NATIVE_CACHE_DIR``), keyed
by the sources, the Python version and the compiler's version: a fresh clone of the same
sources on the same machine restores it in a moment instead of compiling for minutes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO

from citysoc.core.errors import CitysocError

log = logging.getLogger(__name__)

MANIFEST = "native-build.json"
BUILD_DIR = Path("build") / "native"  # under the directory that holds the package


class NativeBuildError(CitysocError):
    """The modules could not be compiled (they still run as Python)."""


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compiled_files(source: Path) -> list[Path]:
    """The extension modules that Python would import instead of ``source``."""
    stem = source.with_suffix("")
    found = (Path(f"{stem}{suffix}") for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    return [path for path in found if path.exists()]


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


@dataclass(frozen=True)
class NativeBuild:
    """The modules of ``package`` (in ``directory``) that mypyc compiles together."""

    package: str
    directory: Path
    modules: tuple[str, ...]  # names within the package (``sources.eve`` for a subpackage's)

    @property
    def names(self) -> list[str]:
        return [f"{self.package}.{leaf}" for leaf in self.modules]

    @property
    def sources(self) -> dict[str, Path]:
        return {
            f"{self.package}.{leaf}": self.directory.joinpath(*leaf.split(".")).with_suffix(".py")
            for leaf in self.modules
        }

    @property
    def group(self) -> str:
        """The runtime library mypyc shares between the modules: ``<package>/native__mypyc``."""
        return f"{self.package}.native"

    @property
    def root(self) -> Path:
        return self.directory.parent

    def recorded(self) -> dict[str, str]:
        """Each module's source digest when it was compiled (empty without a record)."""
        try:
            sources = json.loads((self.directory / MANIFEST).read_text())["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return sources if isinstance(sources, dict) else {}

    def stale(self) -> list[str]:
        """The compiled modules whose source is not the one they were compiled from."""
        recorded = self.recorded()
        return [
            name
            for name, source in self.sources.items()
            if compiled_files(source) and recorded.get(name) != source_digest(source)
        ]

    def is_built(self) -> bool:
        """Whether every module is compiled from its current source."""
        sources = self.sources.values()
        return all(map(compiled_files, sources)) and not self.stale()

    def prefer_fresh(self) -> list[str]:
        """Pass the whole build over for the sources if one is stale; the names passed over."""
        changed = self.stale()
        if not changed:
            return []
        compiled = {name: src for name, src in self.sources.items() if compiled_files(src)}
        log.warning(
            "%s changed since it was compiled: running %s as Python (slower); "
            "rebuild with: citysoc native",
            ", ".join(changed),
            ", ".join(compiled),
        )
        sys.meta_path.insert(0, _SourceFinder(compiled))
        return list(compiled)

    def compiled(self) -> list[str]:
        """The modules that run compiled in this process (importing them)."""
        modules = (importlib.import_module(name) for name in self.names)
        return [m.__name__ for m in modules if not str(m.__file__).endswith(".py")]

    def build(self) -> Path:
        """Compile the modules with mypyc into the package, and record their sources.

        Needs mypy (which ships mypyc), setuptools and a C compiler with Python's headers: the
        optional extra ``native``. Returns the log of the compiler's output; raises
        :class:`NativeBuildError` with its end if compiling failed.
        """
        log_path = self.root / BUILD_DIR / "build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        (self.directory / MANIFEST).unlink(missing_ok=True)  # nothing vouches for a rebuild
        paths = [str(source.relative_to(self.root)) for source in self.sources.values()]
        try:
            with contextlib.chdir(self.root), log_path.open("w") as out, _redirected(out):
                _compile(paths, self.group)
        except (Exception, SystemExit) as exc:  # setuptools exits on a compiler error
            tail = log_path.read_text(errors="replace")[-3000:]
            message = f"{tail}\nmypyc could not compile ({exc}); see {log_path}"
            raise NativeBuildError(message) from exc
        digests = {name: source_digest(source) for name, source in self.sources.items()}
        record = {"compiler": "mypyc", "python": sys.version.split()[0], "sources": digests}
        (self.directory / MANIFEST).write_text(json.dumps(record, indent=1) + "\n")
        return log_path

    def runtime_files(self) -> list[Path]:
        """mypyc's shared runtime library of this build, as Python would import it."""
        return compiled_files(self.directory / f"{self.group.rpartition('.')[2]}__mypyc.py")

    def cache_key(self) -> str:
        """What a cached build must have been made from: sources, Python and compiler."""
        try:
            from mypy.version import __version__ as compiler
        except ImportError:  # without the optional extra ``native`` nothing is built anyway
            compiler = "none"
        digests = {name: source_digest(source) for name, source in self.sources.items()}
        seed = json.dumps(
            [sys.version, importlib.machinery.EXTENSION_SUFFIXES[0], compiler, digests],
            sort_keys=True,
        )
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def save(self, cache: Path) -> Path:
        """Copy this (up-to-date) build into ``cache``; the folder it went to."""
        if not self.is_built():
            raise NativeBuildError("nothing to cache: not compiled from these sources")
        target = cache / self.cache_key()
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        files = [p for s in self.sources.values() for p in compiled_files(s)]
        for path in [*files, *self.runtime_files(), self.directory / MANIFEST]:
            destination = partial / path.relative_to(self.directory)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)  # a reader sees a whole build or none
        return target

    def restore(self, cache: Path) -> bool:
        """Put a cached build of exactly these sources in place; False if there is none."""
        found = cache / self.cache_key()
        if not (found / MANIFEST).is_file():
            return False
        (self.directory / MANIFEST).unlink(missing_ok=True)  # vouches only once all is copied
        for path in sorted(found.rglob("*")):
            if path.is_file() and path.name != MANIFEST:
                destination = self.directory / path.relative_to(found)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
        shutil.copy2(found / MANIFEST, self.directory / MANIFEST)
        return self.is_built()

    def clean(self) -> list[Path]:
        """Remove the compiled modules and their record; the files removed."""
        runtime = self.directory / f"{self.group.rpartition('.')[2]}__mypyc.py"
        doomed = [
            path for source in (*self.sources.values(), runtime) for path in compiled_files(source)
        ]
        for path in doomed:
            path.unlink()
        (self.directory / MANIFEST).unlink(missing_ok=True)
        return doomed


def _compile(paths: list[str], group: str) -> None:
    from mypyc.build import mypycify  # only here: the optional extra ``native``
    from setuptools import setup  # type: ignore[import-untyped]

    setup(
        name="citysoc-native",
        packages=[],
        py_modules=[],
        ext_modules=mypycify(
            paths, opt_level="3", group_name=group, target_dir=str(BUILD_DIR / "c")
        ),
        script_args=[
            "build_ext",
            "--inplace",
            f"--build-temp={BUILD_DIR / 'temp'}",
            f"--build-lib={BUILD_DIR / 'lib'}",
        ],
    )


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
