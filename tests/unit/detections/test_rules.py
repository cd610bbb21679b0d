"""Every rule in the repository, proven on its own evidence (one test per rule folder)."""

from __future__ import annotations

import pytest

from detections.engine.catalog import Catalog, RuleFolder, load_catalog, rule_folders
from detections.engine.compiler import compile_catalog
from detections.engine.proving import prove

CATALOG = load_catalog()


def test_catalog_loads_without_errors() -> None:
    assert CATALOG.errors == []
    assert len(CATALOG.folders) == len(list(rule_folders()))


def test_at_least_three_alerting_rules_one_a_correlation() -> None:
    compiled = compile_catalog(CATALOG)
    assert compiled.errors == []
    kinds = [r.kind for r in compiled.rules]
    assert len(kinds) >= 3 and "correlation" in kinds


def test_rule_ids_and_names_are_unique() -> None:
    ids = [f.rule_id for f in CATALOG.folders]
    names = [f.name for f in CATALOG.folders]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("folder", CATALOG.folders, ids=lambda f: f.name)
def test_rule_fires_on_match_and_stays_quiet_on_nomatch(folder: RuleFolder) -> None:
    proof = prove(CATALOG, folder)
    wrong = [(s.sample.name, "fired" if s.fired else "silent") for s in proof.samples if not s.ok]
    assert wrong == []
    assert any(s.expected for s in proof.samples) and any(not s.expected for s in proof.samples)


def test_subset_catalog_keeps_correlation_references() -> None:
    brute = next(f for f in CATALOG.folders if f.name == "credential_access_rtsp_brute_force")
    base = next(f for f in CATALOG.folders if f.name == "credential_access_rtsp_auth_failure")
    compiled = compile_catalog(Catalog(folders=[base, brute]))
    # the referenced rule generates no alerts of its own: only the correlation compiles
    assert [r.name for r in compiled.rules] == ["credential_access_rtsp_brute_force"]
