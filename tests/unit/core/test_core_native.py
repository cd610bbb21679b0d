"""Compiled modules: used only when built from the sources beside them, and the same as them."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citysoc.core import native
from citysoc.core.native import NativeBuild
from collectors import NATIVE

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "unit" / "collectors" / "eve_golden" / "input.jsonl.gz"
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def make_package(tmp_path: Path, name: str) -> Path:
    """A package whose two modules each have a 'compiled' twin that cannot be imported."""
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "from citysoc.core.native import NativeBuild\n"
        "NATIVE = NativeBuild(__name__, Path(__file__).parent, ('a', 'b'))\n"
        "PASSED_OVER = NATIVE.prefer_fresh()\n"
    )
    for leaf in ("a", "b"):
        (package / f"{leaf}.py").write_text(f"WHAT = 'source of {leaf}'\n")
        (package / f"{leaf}{SUFFIX}").write_bytes(b"not a shared object")
    return package


def record(package: Path, digests: dict[str, str]) -> None:
    (package / native.MANIFEST).write_text(json.dumps({"sources": digests}))


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def test_without_a_record_the_sources_are_imported(isolated_imports: Path) -> None:
    make_package(isolated_imports, "norecord")
    module = importlib.import_module("norecord.a")
    assert module.WHAT == "source of a"
    assert importlib.import_module("norecord").PASSED_OVER == ["norecord.a", "norecord.b"]


def test_one_changed_source_passes_over_the_whole_build(isolated_imports: Path) -> None:
    package = make_package(isolated_imports, "changed")
    record(
        package,
        {"changed.a": native.source_digest(package / "a.py"), "changed.b": "0" * 64},
    )
    assert importlib.import_module("changed.a").WHAT == "source of a"  # a is unchanged
    assert importlib.import_module("changed.b").WHAT == "source of b"


def test_a_build_of_the_current_sources_is_what_gets_imported(isolated_imports: Path) -> None:
    package = make_package(isolated_imports, "fresh")
    record(package, {f"fresh.{x}": native.source_digest(package / f"{x}.py") for x in "ab"})
    assert importlib.import_module("fresh").PASSED_OVER == []
    with pytest.raises(ImportError):  # the "compiled" file is what Python now loads
        importlib.import_module("fresh.a")


def digests_with(tree: Path) -> tuple[list[str], list[str]]:
    """The files of the EVE modules, and the digest of each golden event, run from ``tree``."""
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("eve_digests.py")), str(GOLDEN)],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(run.stdout)
    return out["files"], out["digests"]


def test_a_build_knows_whether_it_is_current(isolated_imports: Path) -> None:
    package = make_package(isolated_imports, "state")
    build = NativeBuild("state", package, ("a", "b"))
    assert build.stale() == ["state.a", "state.b"] and not build.is_built()
    record(package, {f"state.{x}": native.source_digest(package / f"{x}.py") for x in "ab"})
    assert build.stale() == [] and build.is_built()
    (package / "b.py").write_text("WHAT = 'edited'\n")
    assert build.stale() == ["state.b"] and not build.is_built()
    assert sorted(p.name for p in build.clean()) == [f"a{SUFFIX}", f"b{SUFFIX}"]
    assert build.stale() == [] and not build.is_built()  # nothing compiled is left
    assert not (package / native.MANIFEST).exists()


def test_the_compiled_modules_give_what_their_sources_give(tmp_path: Path) -> None:
    compiled = NATIVE.compiled()
    if compiled != NATIVE.names:
        pytest.skip(f"not all compiled here ({compiled}): `citysoc native` builds them")
    for package in ("citysoc", "collectors"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("*.so", native.MANIFEST, "__pycache__"),
        )
    compiled_files, compiled_digests = digests_with(ROOT)
    source_files, source_digests = digests_with(tmp_path)
    assert not any(name.endswith(".py") for name in compiled_files)
    assert all(name.endswith(".py") for name in source_files)
    assert len(compiled_digests) == len(source_digests) > 2000
    pairs = zip(compiled_digests, source_digests, strict=True)
    assert [n for n, (one, other) in enumerate(pairs, start=1) if one != other] == []


def test_a_build_is_cached_and_restored_only_for_the_same_sources(tmp_path: Path) -> None:
    package = make_package(tmp_path, "cachedpkg")
    build = NativeBuild("cachedpkg", package, ("a", "b"))
    (package / f"native__mypyc{SUFFIX}").write_bytes(b"runtime")
    record(package, {name: native.source_digest(src) for name, src in build.sources.items()})
    assert build.is_built()
    cache = tmp_path / "cache"
    saved = build.save(cache)
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        [f"a{SUFFIX}", f"b{SUFFIX}", f"native__mypyc{SUFFIX}", native.MANIFEST]
    )
    for path in [*package.glob(f"*{SUFFIX}"), package / native.MANIFEST]:
        path.unlink()
    assert not build.is_built()
    assert build.restore(cache) and build.is_built()
    assert (package / f"native__mypyc{SUFFIX}").read_bytes() == b"runtime"

    (package / "a.py").write_text("WHAT = 'edited'\n")  # other sources: another key
    assert not build.restore(cache)
    assert not build.is_built()
