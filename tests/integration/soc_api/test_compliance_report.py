"""``citysoc report compliance`` end to end: a PDF printed by headless Chromium, rendered to
images and read back; the same bytes twice; tampering found by ``citysoc report verify``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from citysoc.cli.main import main
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from soc_api.compliance.evidence import Context
from soc_api.compliance.frameworks import framework
from soc_api.compliance.period import parse_period
from soc_api.compliance.render import find_chromium, to_html, to_pdf
from soc_api.compliance.report import build_report

needs_pdf_tools = pytest.mark.skipif(
    find_chromium() is None or not shutil.which("pdftoppm") or not shutil.which("pdftotext"),
    reason="needs Debian's chromium and poppler-utils (scripts/system-deps.sh)",
)


@needs_pdf_tools
def test_pdf_has_vietnamese_text_and_is_stable(topology: Topology, tmp_path: Path) -> None:
    ctx = Context(topology=topology, agency="d1", period=parse_period("2026-H2"))
    html = to_html(build_report(ctx, framework("decree85")))
    pdf = to_pdf(html, "20270101000000")
    assert pdf.startswith(b"%PDF-")
    assert to_pdf(html, "20270101000000") == pdf
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)  # fmt: skip
    page = next(tmp_path.glob("page*.png"))
    assert page.read_bytes().startswith(b"\x89PNG") and page.stat().st_size > 5000
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode()  # fmt: skip
    for words in ("Báo cáo tuân thủ an toàn thông tin", "UBND Quận 1", "Cần xác nhận",
                  "Nghị định 85/2016/NĐ-CP"):  # fmt: skip
        assert words in text


def test_cli_writes_verifies_and_finds_tampering(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "out"
    args = ["report", "compliance", "--agency", "tanbinh", "--period", "2026-H2",
            "--framework", "circular31", "--out", str(out), "--no-pdf", "--lang", "en",
            "--stack", "no-such-stack"]  # fmt: skip
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "circular31 for tanbinh, 2026-H2" in said
    report = out / "circular31-tanbinh-2026-H2.json"
    assert '"lang": "en"' in report.read_text(encoding="utf-8")
    assert main(["report", "verify", str(report)]) == 0
    report.write_text(report.read_text(encoding="utf-8").replace('"met"', '"not_met"'))
    assert main(["report", "verify", str(report)]) == 1
    assert "changed since it was signed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "listed"),
    [
        ("--agency", "nowhere", "agencies: d1, dc, dic, dot, drainage, ioc, tanbinh"),
        ("--period", "2026-Q4", "YYYY-H1 (January-June) or YYYY-H2"),
        ("--framework", "iso27001", "known: circular31, decree85, tcvn11930"),
    ],
)
def test_cli_bad_input_lists_the_valid(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], flag: str, value: str, listed: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(settings.data_dir))
    args = {"--agency": "d1", "--period": "2026-H2", "--framework": "decree85"}
    args[flag] = value
    argv = ["report", "compliance", "--out", str(tmp_path / "o"), "--no-pdf"]
    argv += [word for pair in args.items() for word in pair]
    assert main(argv) == 2
    assert listed in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@needs_pdf_tools
def test_incident_report_pdf_has_vietnamese_text(topology: Topology, tmp_path: Path) -> None:
    from soc_api.compliance.incident_report import build_incident_report
    from soc_api.incidents.models import IncidentPublic

    alert = {
        "id": 7, "rule_id": "r", "rule_name": "credential_access_rtsp_brute_force",
        "title": "Dò mật khẩu RTSP vào camera", "severity": "high", "risk_score": 73,
        "status": "closed", "agency": "d1", "segment": "cam-d1", "security_level": 3,
        "entity": {"source.ip": "203.0.113.50"}, "event_count": 12,
        "first_seen": "2026-11-20T02:01:00Z", "last_seen": "2026-11-20T02:02:00Z",
        "runbook": "camera-bruteforce.md", "tags": [], "note": "chặn địa chỉ tại tường lửa",
        "assignee": "d1-analyst", "close_reason": "true_positive",
        "closed_at": "2026-11-20T04:00:00Z", "observables": ["ip:203.0.113.50"],
        "attacker": "ip:203.0.113.50", "targets": ["ip:10.31.0.21"], "target_count": 1,
        "tactic": "credential_access",
    }  # fmt: skip
    incident = IncidentPublic.model_validate({
        "id": 7, "title": "ip:203.0.113.50 → UBND Quận 1", "campaign": False,
        "severity": "high", "first_seen": alert["first_seen"], "last_seen": alert["last_seen"],
        "agencies": ["d1"], "other_agencies": 0, "other_alerts": 0,
        "shared_observables": ["ip:203.0.113.50"], "actor": "ip:203.0.113.50",
        "alerts": [alert], "timeline": [{"at": alert["first_seen"], "alert_id": 7,
                                         "title": alert["title"], "agency": "d1",
                                         "severity": "high", "tactic": "credential_access"}],
    })  # fmt: skip
    report = build_incident_report(
        incident, agency="d1", topology=topology, kind="final", at="2026-11-21T00:00:00Z"
    )
    path = tmp_path / "incident.pdf"
    path.write_bytes(to_pdf(to_html(report), "20261121000000"))
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode()  # fmt: skip
    for words in ("Báo cáo kết thúc ứng phó sự cố", "Thông tư 20/2017/TT-BTTTT",
                  "Tấn công dò mật khẩu", "UBND Quận 1", "đúng hạn"):  # fmt: skip
        assert words in text, words
