"""Bad rules are reported with their file (and line and column where YAML knows them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from citysoc.core.errors import RuleError
from detections.engine.catalog import RULES_ROOT, RUNBOOKS_ROOT, load_catalog, load_folder

GOOD = RULES_ROOT / "sigma" / "cameras" / "initial_access_hikvision_cve_2021_36260"


def copy_rule(tmp_path: Path, name: str = GOOD.name) -> Path:
    target = tmp_path / "sigma" / "cameras" / name
    shutil.copytree(GOOD, target)
    return target


def test_good_copy_loads(tmp_path: Path) -> None:
    assert load_folder(copy_rule(tmp_path), RUNBOOKS_ROOT).name == GOOD.name


def test_yaml_error_has_line_and_column(tmp_path: Path) -> None:
    folder = copy_rule(tmp_path)
    (folder / "rule.yml").write_text("title: x\ndetection: [unclosed\n")
    with pytest.raises(RuleError) as info:
        load_folder(folder, RUNBOOKS_ROOT)
    loc = info.value.location
    assert loc is not None and loc.source.endswith("rule.yml") and loc.line is not None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("runbook: camera-exploit.md", "runbook: nowhere.md"), "runbook"),
        (lambda t: t.replace("owner: city-soc\n", ""), "owner"),
        (lambda t: t.replace("  - attack.initial-access\n", ""), "attack.initial-access"),
        (lambda t: t.replace("level: critical\n", ""), "level"),
    ],
)
def test_missing_metadata_is_named(tmp_path: Path, edit: object, message: str) -> None:
    folder = copy_rule(tmp_path)
    text = (folder / "rule.yml").read_text()
    (folder / "rule.yml").write_text(edit(text))  # type: ignore[operator]
    with pytest.raises(RuleError, match=message):
        load_folder(folder, RUNBOOKS_ROOT)


def test_bad_folder_name_and_missing_samples(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="tactic"):
        load_folder(copy_rule(tmp_path, "hikvision_without_tactic"), RUNBOOKS_ROOT)
    folder = copy_rule(tmp_path)
    shutil.rmtree(folder / "nomatch")
    with pytest.raises(RuleError, match="nomatch"):
        load_folder(folder, RUNBOOKS_ROOT)


def test_catalog_survives_one_bad_rule(tmp_path: Path) -> None:
    copy_rule(tmp_path)
    bad = copy_rule(tmp_path, "initial_access_broken")
    (bad / "rule.yml").write_text("title: [\n")
    catalog = load_catalog(tmp_path, RUNBOOKS_ROOT)
    assert [f.name for f in catalog.folders] == [GOOD.name]
    assert len(catalog.errors) == 1


def test_an_impossible_date_is_a_rule_error_not_a_crash(tmp_path: Path) -> None:
    folder = copy_rule(tmp_path)
    text = (folder / "rule.yml").read_text()
    (folder / "rule.yml").write_text(text.replace("date:", "modified: 2026-13-01\ndate:", 1))
    with pytest.raises(RuleError, match="unusable YAML value") as info:
        load_folder(folder, RUNBOOKS_ROOT)
    assert info.value.location is not None and info.value.location.source.endswith("rule.yml")
