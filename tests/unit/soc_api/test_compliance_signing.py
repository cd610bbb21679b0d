"""Signed reports: the same report gives the same bytes; any change is named by verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citysoc.core.topology import Topology
from soc_api.compliance.evidence import Context
from soc_api.compliance.frameworks import ComplianceError, framework
from soc_api.compliance.period import parse_period
from soc_api.compliance.publish import write_report
from soc_api.compliance.report import build_report
from soc_api.compliance.signing import verify

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def written(topology: Topology, tmp_path: Path) -> list[Path]:
    ctx = Context(topology=topology, agency="tanbinh", period=parse_period("2026-H2"))
    report = build_report(ctx, framework("decree85"))
    return write_report(report, tmp_path / "out", KEY, pdf=False)


def test_same_inputs_same_bytes(topology: Topology, tmp_path: Path, written: list[Path]) -> None:
    ctx = Context(topology=topology, agency="tanbinh", period=parse_period("2026-H2"))
    again = write_report(build_report(ctx, framework("decree85")), tmp_path / "again", KEY,
                         pdf=False)  # fmt: skip
    assert [p.name for p in again] == [p.name for p in written]
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]
    html = written[1].read_text(encoding="utf-8")
    assert "Báo cáo tuân thủ an toàn thông tin" in html and "UBND Quận Tân Bình" in html


def test_untouched_report_verifies(written: list[Path]) -> None:
    for path in written:
        assert verify(path, KEY.public_key()) == []


def test_changed_requirement_is_named(written: list[Path]) -> None:
    data = json.loads(written[0].read_text(encoding="utf-8"))
    data["requirements"][0]["status"] = "met"
    data["requirements"][1]["status"] = "met"
    written[0].write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    problems = verify(written[0], KEY.public_key())
    assert problems[0] == "decree85-tanbinh-2026-H2.json: changed since it was signed"
    assert any("requirement d85-dossier-approved changed" in p for p in problems)
    assert not any("evidence" in p for p in problems)


def test_changed_evidence_and_html_are_named(written: list[Path]) -> None:
    data = json.loads(written[0].read_text(encoding="utf-8"))
    data["evidence"]["event_flow"]["findings"] = []
    written[0].write_text(json.dumps(data), encoding="utf-8")
    written[1].write_bytes(
        written[1]
        .read_bytes()
        .replace(b"Kh\xc3\xb4ng \xc4\x91\xe1\xba\xa1t", b"\xc4\x90\xe1\xba\xa1t")
    )
    problems = verify(written[2], KEY.public_key())
    assert any("evidence event_flow changed" in p for p in problems)
    assert "decree85-tanbinh-2026-H2.html: changed since it was signed" in problems


def test_missing_file_wrong_key_and_edited_manifest(written: list[Path]) -> None:
    written[1].unlink()
    assert verify(written[0], KEY.public_key()) == ["decree85-tanbinh-2026-H2.html: missing"]
    other = Ed25519PrivateKey.generate().public_key()
    assert "bad signature" in verify(written[0], other)[0]
    manifest = written[2]
    manifest.write_text(manifest.read_text().replace('"files"', '"files" '), encoding="utf-8")
    assert verify(written[0], KEY.public_key()) == ["decree85-tanbinh-2026-H2.html: missing"]
    data = json.loads(manifest.read_text())
    data["files"]["decree85-tanbinh-2026-H2.json"] = "0" * 64
    manifest.write_text(json.dumps(data))
    assert "bad signature" in verify(written[0], KEY.public_key())[0]


def test_no_manifest(tmp_path: Path) -> None:
    lone = tmp_path / "x.json"
    lone.write_text("{}")
    with pytest.raises(ComplianceError, match=r"no signature manifest x.sig.json"):
        verify(lone, KEY.public_key())
