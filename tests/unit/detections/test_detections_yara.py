"""Every YARA rule proven on its own samples, and the loader's errors carry file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysoc.core.errors import RuleError
from detections.engine.yara_rules import (
    YaraRuleFolder,
    compile_catalog_rules,
    load_yara_catalog,
    load_yara_folder,
    matches,
    prove_yara,
    yara_folders,
)

CATALOG = load_yara_catalog()
GOOD_RULE = """rule execution_test_marker
{
    meta:
        id = "00000000-0000-4000-8000-000000000001"
        description = "test"
        author = "citysoc"
        owner = "city-soc"
        runbook = "iot-botnet.md"
        attack = "T1059.004"
        severity = "high"
    strings:
        $a = "CITYSOC-TEST-MARKER"
    condition:
        $a
}
"""


def _folder(root: Path, text: str, name: str = "execution_test_marker") -> Path:
    path = root / "area" / name
    for sub, content in (("match", "x CITYSOC-TEST-MARKER x"), ("nomatch", "nothing")):
        (path / sub).mkdir(parents=True)
        (path / sub / "sample.txt").write_text(content)
    (path / "rule.yar").write_text(text)
    return path


def test_yara_catalog_loads_at_least_fifteen_rules_without_errors() -> None:
    assert CATALOG.errors == []
    assert len(CATALOG.folders) == len(yara_folders()) >= 15


def test_all_rules_compile_together_and_ids_are_unique() -> None:
    rules = compile_catalog_rules(CATALOG)
    assert len(list(rules)) == len(CATALOG.folders)
    ids = [f.meta["id"] for f in CATALOG.folders]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("folder", CATALOG.folders, ids=lambda f: f.name)
def test_yara_rule_fires_on_match_and_stays_quiet_on_nomatch(folder: YaraRuleFolder) -> None:
    proof = prove_yara(folder)
    wrong = [(s.sample.name, "fired" if s.fired else "silent") for s in proof.samples if not s.ok]
    assert wrong == []


def test_a_good_rule_loads_and_matches(tmp_path: Path) -> None:
    folder = load_yara_folder(_folder(tmp_path, GOOD_RULE), Path("runbooks"))
    assert prove_yara(folder).ok
    assert matches(folder.compiled, b"CITYSOC-TEST-MARKER") == ["execution_test_marker"]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = GOOD_RULE.replace("$a\n}", "$a and\n}")
    path = _folder(tmp_path, broken)
    with pytest.raises(RuleError) as info:
        load_yara_folder(path, Path("runbooks"))
    location = info.value.location
    assert location is not None
    assert location.source.endswith("rule.yar") and location.line == 15  # the unfinished condition


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('author = "citysoc"', 'author = "someone"'), "author"),
        (('severity = "high"', 'severity = "severe"'), "severity"),
        (('attack = "T1059.004"', 'attack = "execution"'), "technique"),
        (('runbook = "iot-botnet.md"', 'runbook = "missing.md"'), "runbook"),
        (('        owner = "city-soc"\n', ""), "owner"),
        (("rule execution_test_marker", "rule another_name"), "named"),
    ],
)
def test_bad_metadata_is_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _folder(tmp_path, GOOD_RULE.replace(*change))
    with pytest.raises(RuleError, match=message):
        load_yara_folder(path, Path("runbooks"))


def test_a_rule_without_nomatch_samples_is_refused(tmp_path: Path) -> None:
    path = _folder(tmp_path, GOOD_RULE)
    (path / "nomatch" / "sample.txt").unlink()
    with pytest.raises(RuleError, match="samples"):
        load_yara_folder(path, Path("runbooks"))
