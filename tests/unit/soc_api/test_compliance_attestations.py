"""Attestations kept with who and when; a changed file is found; wrong requirements refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc_api.compliance.attestations import load, save
from soc_api.compliance.frameworks import ComplianceError, framework
from soc_api.compliance.period import parse_period

PERIOD = parse_period("2026-H2")


def _save(data_dir: Path, requirement: str = "d85-inspection", content: bytes = b"x") -> str:
    record = save(data_dir, agency="dc", period=PERIOD, framework=framework("decree85"),
                  requirement=requirement, file_name="../../etc/Báo cáo.pdf", content=content,
                  by="auditor", at="2026-12-01T00:00:00Z")  # fmt: skip
    return record.stored_as


def test_saved_and_read_back(tmp_path: Path) -> None:
    stored = _save(tmp_path)
    assert "/" not in stored and not stored.startswith(".")
    found, problems = load(tmp_path, "dc", PERIOD, "decree85")
    assert problems == {}
    record = found["d85-inspection"][0]
    assert (record.by, record.at, record.size) == ("auditor", "2026-12-01T00:00:00Z", 1)
    assert load(tmp_path, "dc", parse_period("2026-H1"), "decree85") == ({}, {})


def test_changed_file_is_a_problem(tmp_path: Path) -> None:
    stored = _save(tmp_path)
    path = next(tmp_path.rglob(stored))
    path.write_bytes(b"forged")
    found, problems = load(tmp_path, "dc", PERIOD, "decree85")
    assert found == {}
    assert problems["d85-inspection"] == [f"attestation {stored} was changed after it was uploaded"]


def test_refused(tmp_path: Path) -> None:
    with pytest.raises(ComplianceError, match="those that do: d85-dossier-approved"):
        _save(tmp_path, requirement="d85-classify")
    with pytest.raises(ComplianceError, match="1 byte to 20 MiB"):
        _save(tmp_path, content=b"")
