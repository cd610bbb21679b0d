"""Frameworks as data: every bundled file loads, names only known checks, and a broken
file is refused with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc_api.compliance.evidence import CHECKS
from soc_api.compliance.frameworks import (
    ComplianceError,
    bundled_frameworks,
    framework,
    load_frameworks,
    parse_framework,
)
from soc_api.compliance.period import parse_period
from soc_api.compliance.report import build_report  # noqa: F401 - registers the checks

GOOD = """\
id: sample
title: {vi: "Mẫu", en: "Sample"}
sources: ["a text"]
requirements:
  - id: s-one
    ref: "Art. 1"
    certainty: sure
    levels: [1, 2]
    text: {vi: "Một", en: "One"}
    evidence: {checks: [audit_chain]}
"""


def test_bundled_frameworks_load() -> None:
    found = bundled_frameworks()
    assert {"decree85", "tcvn11930", "circular31"} <= set(found)
    for fw in found.values():
        assert len(fw.requirements) >= 5
        assert all(r.text.vi and r.text.en for r in fw.requirements)


@pytest.mark.parametrize("name", sorted(bundled_frameworks()))
def test_every_named_check_exists(name: str) -> None:
    for req in bundled_frameworks()[name].requirements:
        for check in req.evidence.checks:
            assert check in CHECKS, f"{name} {req.id} names unknown check {check!r}"


def test_every_check_is_used_and_describes_its_query() -> None:
    used = {c for fw in bundled_frameworks().values() for r in fw.requirements
            for c in r.evidence.checks}  # fmt: skip
    assert used == set(CHECKS)


def test_good_file_parses(tmp_path: Path) -> None:
    (tmp_path / "sample.yml").write_text(GOOD, encoding="utf-8")
    assert load_frameworks(tmp_path)["sample"].requirements[0].levels == (1, 2)


@pytest.mark.parametrize(
    ("broken", "line", "words"),
    [
        (GOOD.replace("levels: [1, 2]", "levels: [1, 7]"), 8, "within 1-5"),
        (GOOD.replace("{checks: [audit_chain]}", "{}"), 10, "either 'checks' or 'attestation'"),
        (GOOD.replace("certainty: sure", "certainty: maybe"), 7, "certainty"),
        (GOOD.replace('ref: "Art. 1"', "ref: [unclosed"), 7, "not YAML"),
    ],
)
def test_broken_file_names_file_and_line(broken: str, line: int, words: str) -> None:
    with pytest.raises(ComplianceError) as caught:
        parse_framework(broken, Path("sample.yml"))
    assert caught.value.location is not None
    assert caught.value.location.source == "sample.yml"
    assert caught.value.location.line == line
    assert words in str(caught.value)


def test_id_must_match_file_name() -> None:
    with pytest.raises(ComplianceError, match="differs from the file name"):
        parse_framework(GOOD, Path("other.yml"))


def test_unknown_framework_lists_the_known() -> None:
    with pytest.raises(ComplianceError, match="known: circular31, decree85, tcvn11930"):
        framework("pci")


def test_periods() -> None:
    h2 = parse_period("2026-H2")
    assert (h2.start_iso, h2.end_iso) == ("2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert parse_period("2026-H1").end_iso == "2026-07-01T00:00:00Z"
    assert h2.contains("2026-11-20T02:10:00.000Z")
    assert not h2.contains("2026-06-30T23:59:59Z")
    assert not h2.contains("not a time")
    for bad in ("2026-H3", "2026", "26-H1", "2026-Q3"):
        with pytest.raises(ComplianceError, match="YYYY-H1"):
            parse_period(bad)
