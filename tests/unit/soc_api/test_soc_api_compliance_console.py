"""The Compliance page: who sees which agency, generation and download audited."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from soc_api.audit.models import AuditEntry
from soc_api.compliance.evidence import RuleOutcome

from .conftest import Soc


@pytest.fixture(autouse=True)
def _light_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Pulumi plan, no Chromium and two rules: the page's own work, not theirs."""
    import soc_api.console.compliance as page

    monkeypatch.setattr(page, "single_stack", lambda _repo: None)
    monkeypatch.setattr(page, "find_chromium", lambda: None)
    rules = [RuleOutcome("cam", "cameras", ("T1110",), True)]
    monkeypatch.setattr(page, "rule_outcomes", lambda: rules)


def _agencies(html: str) -> list[str]:
    return re.findall(r'<option value="([a-z0-9-]+)">[^<]*\(\1\)</option>', html)


def _generate(soc: Soc, agency: str, **extra: str) -> int:
    form = {"agency": agency, "period": "2026-H2", "framework": "circular31",
            "csrf": soc.csrf(), **extra}  # fmt: skip
    return soc.client.post("/compliance", data=form, follow_redirects=False).status_code


def test_city_auditor_sees_every_agency_and_generates(soc: Soc) -> None:
    assert soc.login("auditor") == 303
    page = soc.client.get("/compliance")
    assert page.status_code == 200
    assert _agencies(page.text) == sorted(soc.ctx.topology.agencies)
    assert _generate(soc, "tanbinh", lang="en") == 303
    listed = soc.client.get("/compliance").text
    assert 'data-report="circular31-tanbinh-2026-H2"' in listed
    got = soc.client.get("/compliance/files/circular31-tanbinh-2026-H2.json")
    assert got.status_code == 200
    report = json.loads(got.content)
    assert report["agency"]["id"] == "tanbinh" and report["lang"] == "en"
    assert (
        soc.client.get("/compliance/files/circular31-tanbinh-2026-H2.sig.json").status_code == 200
    )
    with soc.ctx.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "report")
        ).all()
    assert actions == ["compliance.generate", "compliance.download", "compliance.download"]


@pytest.mark.parametrize("reader", ["d1", "aud-d1"])  # an agency's analyst, its auditor
def test_agency_reader_sees_only_their_agency(soc: Soc, reader: str) -> None:
    soc.login("auditor")
    assert _generate(soc, "tanbinh") == 303
    soc.login(reader)
    assert _agencies(soc.client.get("/compliance").text) == ["d1"]
    assert "circular31-tanbinh-2026-H2" not in soc.client.get("/compliance").text
    assert _generate(soc, "tanbinh") == 404
    assert soc.client.get("/compliance/files/circular31-tanbinh-2026-H2.json").status_code == 404
    assert _generate(soc, "d1") == 303
    assert soc.client.get("/compliance/files/circular31-d1-2026-H2.html").status_code == 200


def test_bad_input_and_strangers(soc: Soc) -> None:
    soc.login("auditor")
    form = {"agency": "d1", "period": "2026-Q1", "framework": "decree85", "csrf": soc.csrf()}
    bad = soc.client.post("/compliance", data=form)
    assert bad.status_code == 400 and "YYYY-H1" in bad.text
    form |= {"period": "2026-H2", "framework": "pci"}
    unknown = soc.client.post("/compliance", data=form)
    assert unknown.status_code == 400 and "decree85" in unknown.text
    assert _generate(soc, "d1", csrf="forged") == 403
    for name in ("..%2Fsoc.db", "soc.db", "circular31-d1-2026-H2.exe"):
        assert soc.client.get(f"/compliance/files/{name}").status_code == 404
    soc.client.cookies.clear()
    assert soc.client.get("/compliance", follow_redirects=False).status_code == 303
    token = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    assert soc.client.get("/compliance", headers=token, follow_redirects=False).status_code in (
        303,
        403,
    )


def test_attestation_upload_turns_the_requirement_met(soc: Soc) -> None:
    soc.login("d1")
    form = {"agency": "d1", "period": "2026-H2", "requirement": "circular31/c31-six-month-report",
            "csrf": soc.csrf()}  # fmt: skip
    files = {"document": ("report sent.pdf", b"%PDF-1.4 sent", "application/pdf")}
    assert soc.client.post("/compliance/attest", data=form, files=files,
                           follow_redirects=False).status_code == 303  # fmt: skip
    wrong = form | {"requirement": "circular31/c31-continuous"}
    refused = soc.client.post("/compliance/attest", data=wrong, files=files)
    assert refused.status_code == 400 and "takes no attestation" in refused.text
    other = form | {"agency": "tanbinh"}
    assert soc.client.post("/compliance/attest", data=other, files=files).status_code == 404
    assert _generate(soc, "d1") == 303
    report = json.loads(soc.client.get("/compliance/files/circular31-d1-2026-H2.json").content)
    six = next(r for r in report["requirements"] if r["id"] == "c31-six-month-report")
    assert six["status"] == "met"
    assert six["attestations"][0]["by"] == "d1"
    assert six["attestations"][0]["file_name"] == "report sent.pdf"
    with soc.ctx.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "compliance.attest")
        ).all()
    assert actions == ["compliance.attest"]


def test_schedule_failures_are_shown(soc: Soc) -> None:
    folder = soc.ctx.settings.data_dir / "compliance"
    folder.mkdir(parents=True, exist_ok=True)
    failure = {"report": "decree85-dot-2026-H2", "error": "OSError: disk full"}
    status = {"checked_at": "2027-01-01T01:00:00Z", "period": "2026-H2", "generated": [],
              "failures": [failure]}  # fmt: skip
    (folder / "schedule.json").write_text(json.dumps(status))
    soc.login("auditor")
    page = soc.client.get("/compliance").text
    assert 'data-failures="1"' in page
    assert "decree85-dot-2026-H2: OSError: disk full" in page


def test_a_kept_report_drills_down_to_its_evidence_on_the_page(soc: Soc) -> None:
    soc.login("auditor")
    assert _generate(soc, "d1", lang="en") == 303
    listed = soc.client.get("/compliance").text
    assert 'href="/compliance/reports/circular31-d1-2026-H2"' in listed
    page = soc.client.get("/compliance/reports/circular31-d1-2026-H2").text
    assert 'data-requirement="c31-continuous"' in page
    assert '<details class="evidence" data-check="event_flow">' in page and "SHA-256" in page
    soc.login("aud-tb")  # another agency's auditor: not theirs to see
    assert soc.client.get("/compliance/reports/circular31-d1-2026-H2").status_code == 404
    assert soc.client.get("/compliance/reports/..%2Fsoc").status_code == 404
    with soc.ctx.sessions() as session:
        viewed = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "compliance.view")
        ).all()
    assert viewed == ["compliance.view"]
