"""The Circular 20/2017 incident report: one agency's part of one incident, signed, with the
5-day deadline, and a final report only once the response has ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from citysoc.cli.main import main
from citysoc.core.errors import CitysocError
from soc_api.compliance.incident_report import build_incident_report

Soc = Any  # the seeded SOC helper of conftest.py
AT = "2026-11-21T09:00:00Z"


def incident_of(soc: Soc, login: str) -> dict[str, Any]:
    soc.login(login)
    items = soc.client.get("/api/v1/incidents").json()["items"]
    return dict(soc.client.get(f"/api/v1/incidents/{items[0]['id']}").json())


def test_a_notification_holds_only_the_agencys_part(soc: Soc) -> None:
    from soc_api.incidents.models import IncidentPublic

    seen = IncidentPublic.model_validate(incident_of(soc, "d1"))
    report = build_incident_report(seen, agency="d1", topology=soc.ctx.topology, at=AT)
    assert report["kind"] == "notification" and report["agency"]["id"] == "d1"
    assert [s["segment"] for s in report["systems"]] == ["cam-d1"]
    assert report["systems"][0]["security_level"] is not None
    assert report["incident"]["types"][0]["en"] == "Password guessing"
    assert report["incident"]["status"] == "ongoing" and report["incident"]["on_time"]
    assert report["incident"]["due"] > report["incident"]["detected"]
    assert "tanbinh" not in json.dumps(report)  # the other agency is counted, never named
    late = build_incident_report(seen, agency="d1", topology=soc.ctx.topology,
                                 at="2027-01-01T00:00:00Z")  # fmt: skip
    assert not late["incident"]["on_time"]
    with pytest.raises(CitysocError, match="still open"):
        build_incident_report(seen, agency="d1", topology=soc.ctx.topology, kind="final", at=AT)


def test_the_cli_writes_a_signed_report_that_verifies_and_refuses_tampering(
    soc: Soc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = incident_of(soc, "d1")
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(soc.ctx.settings.data_dir))
    out = tmp_path / "out"
    args = ["report", "incident", "--id", str(incident["id"]), "--agency", "d1",
            "--out", str(out), "--at", AT, "--no-pdf"]  # fmt: skip
    assert main(args) == 0
    name = f"circular20-notification-d1-incident-{incident['id']}"
    html = (out / f"{name}.html").read_text()
    assert "Thông báo sự cố an toàn thông tin mạng" in html and "Điều 11" in html
    first = (out / f"{name}.json").read_bytes()
    assert main(args) == 0 and (out / f"{name}.json").read_bytes() == first  # same bytes
    assert main(["report", "verify", str(out / f"{name}.json")]) == 0
    (out / f"{name}.json").write_bytes(first.replace(b'"ongoing"', b'"resolved"'))
    assert main(["report", "verify", str(out / f"{name}.json")]) == 1
    assert "NOT as signed" in capsys.readouterr().err
    assert main([*args[:-1], "--final", "--no-pdf"]) == 2  # alerts still open


def test_an_unknown_incident_or_agency_is_a_clear_error(
    soc: Soc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(soc.ctx.settings.data_dir))
    base = ["report", "incident", "--out", str(tmp_path), "--no-pdf", "--at", AT]
    assert main([*base, "--id", "999999", "--agency", "d1"]) == 2
    assert "no incident 999999" in capsys.readouterr().err
