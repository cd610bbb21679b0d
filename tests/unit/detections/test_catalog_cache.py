"""The compiled catalog kept per process: reused for the same rule files, never shared mutably."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from detections.engine.catalog import RULES_ROOT, RUNBOOKS_ROOT, SIGMA_KINDS, load_catalog
from detections.engine.catalog_cache import compiled_catalog, fingerprint, kept_compilation
from detections.engine.compiler import compile_catalog


def copy_rules(tmp_path: Path) -> tuple[Path, Path]:
    root, runbooks = tmp_path / "detections", tmp_path / "runbooks"
    for kind in SIGMA_KINDS:
        shutil.copytree(RULES_ROOT / kind, root / kind)
    shutil.copytree(RUNBOOKS_ROOT, runbooks)
    return root, runbooks


def test_the_kept_compilation_is_what_a_fresh_one_gives() -> None:
    fresh = compile_catalog(load_catalog())
    assert compiled_catalog().rules == fresh.rules
    assert compiled_catalog().rules == fresh.rules  # the second from the kept one


def test_each_caller_gets_lists_of_its_own() -> None:
    first, second = compiled_catalog(), compiled_catalog()
    assert first.rules is not second.rules and first.errors is not second.errors
    first.rules.clear()
    first.errors.clear()
    assert compiled_catalog().rules == second.rules and len(second.rules) > 0
    assert compiled_catalog().errors == second.errors


def test_the_same_files_are_compiled_once(tmp_path: Path) -> None:
    root, runbooks = copy_rules(tmp_path)
    assert kept_compilation(root, runbooks) is kept_compilation(root, runbooks)


def test_an_edited_rule_is_compiled_again(tmp_path: Path) -> None:
    root, runbooks = copy_rules(tmp_path)
    before = kept_compilation(root, runbooks)
    generating = {r.name for r in before.rules}
    rule = next(p for p in sorted(root.glob("*/*/*/rule.yml")) if p.parent.name in generating)
    text = rule.read_text(encoding="utf-8")
    edited = re.sub(r"^title: ", "title: Edited ", text, count=1, flags=re.MULTILINE)
    assert edited != text
    rule.write_text(edited, encoding="utf-8")
    after = kept_compilation(root, runbooks)
    assert after is not before
    titles = {r.title for r in after.rules} - {r.title for r in before.rules}
    assert len(titles) == 1 and titles.pop().startswith("Edited ")


def test_what_the_loader_reads_changes_the_fingerprint(tmp_path: Path) -> None:
    root, runbooks = copy_rules(tmp_path)
    seen = {fingerprint(root, runbooks)}
    sample = next((root / "sigma").glob("*/*/match/*.json"))
    sample.rename(sample.with_name("renamed.json"))  # sample names: the loader globs them
    seen.add(fingerprint(root, runbooks))
    next(runbooks.glob("*.md")).unlink()  # a runbook gone: the rules naming it fail to load
    seen.add(fingerprint(root, runbooks))
    assert len(seen) == 3


def test_a_broken_rule_file_is_an_error_of_the_kept_compilation(tmp_path: Path) -> None:
    root, runbooks = copy_rules(tmp_path)
    rule = next((root / "sigma").glob("*/*/rule.yml"))
    rule.write_text("title: [unclosed\n", encoding="utf-8")
    kept = kept_compilation(root, runbooks)
    assert any(str(rule) in str(error) for error in kept.errors)
