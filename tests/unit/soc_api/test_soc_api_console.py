"""Console pages: queue with keyboard triage, detail with runbook, languages, CSRF on forms,
the audit log for auditors and API tokens for admins."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import update

from soc_api.audit.models import AuditEntry
from soc_api.db import transaction

Soc = Any  # the seeded SOC helper of conftest.py


def test_vietnamese_by_default_english_on_request(soc: Soc) -> None:
    soc.login("city")
    page = soc.client.get("/alerts").text
    assert 'lang="vi"' in page and "Cảnh báo" in page
    switched = soc.client.post("/lang?back=/alerts", data={"csrf": soc.csrf(), "lang": "en"})
    assert switched.status_code == 200 and 'lang="en"' in switched.text
    assert "Alerts" in switched.text and "Cảnh báo" not in switched.text


def test_queue_rows_keep_their_attributes_and_keys(soc: Soc) -> None:
    soc.login("d1")
    page = soc.client.get("/alerts").text
    assert page.count('data-rule="credential_access_rtsp_brute_force"') == 1
    assert 'data-agency="d1"' in page and 'data-agency="tanbinh"' not in page
    assert '<script src="/static/console.js"' in page
    script = soc.client.get("/static/console.js").text
    assert 'case "j"' in script and 'case "a"' in script and 'case "c"' in script


def test_close_from_the_detail_page_and_see_the_history(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    page = soc.client.get(f"/alerts/{alert_id}").text
    assert 'id="close-form"' in page and "<h2>" in page and "10.31.0.21" in page
    form = {"csrf": soc.csrf(), "status": "closed", "close_reason": "benign", "note": "pen test"}
    done = soc.client.post(f"/alerts/{alert_id}/triage", data=form)
    assert done.status_code == 200
    assert 'data-status="closed"' in done.text and 'data-action="alert.update"' in done.text
    assert "pen test" in done.text


def test_forms_without_csrf_are_refused(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    forged = soc.client.post(f"/alerts/{alert_id}/triage", data={"csrf": "x", "status": "closed"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]["message"]
    assert soc.client.post("/iocs", data={"csrf": "x", "kind": "ip", "value": "192.0.2.1",
                                          "tlp": "RED"}).status_code == 403  # fmt: skip


def test_every_page_renders_for_every_role(soc: Soc) -> None:
    for user in ("city", "d1", "auditor", "admin"):
        soc.login(user)
        oversight = {"auditor": ("/audit",), "admin": ("/audit", "/tokens")}.get(user, ())
        for path in ("/alerts", "/incidents", "/iocs", "/rules", *oversight):
            response = soc.client.get(path)
            assert response.status_code == 200, (user, path)
            assert re.search(r'<meta name="csrf" content="[^"]+">', response.text)


def test_ops_sees_rules_not_alerts(soc: Soc) -> None:
    soc.login("ops")
    assert soc.client.get("/rules").status_code == 200
    assert soc.client.get("/api/v1/alerts").status_code == 403


def test_auditors_read_and_verify_the_audit_log_in_the_console(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    assert "/audit" not in soc.client.get("/alerts").text  # not in an analyst's menu
    assert soc.client.get("/audit").status_code == 403
    form = {"csrf": soc.csrf(), "status": "closed", "close_reason": "benign", "note": "drill"}
    soc.client.post(f"/alerts/{alert_id}/triage", data=form)
    soc.login("auditor")
    page = soc.client.get("/audit", params={"object_type": "alert", "object_id": alert_id}).text
    assert 'href="/audit"' in page and f">alert:{alert_id}<" in page
    assert page.count('data-action="alert.update"') == 1 and "drill" in page
    again = soc.client.get("/audit").text  # the first read was recorded, newest first
    first = re.search(r'data-action="([^"]+)"', again)
    assert first is not None and first.group(1) == "audit.read"
    soc.client.post("/lang?back=/audit", data={"csrf": soc.csrf(), "lang": "en"})
    verified = soc.client.get("/audit", params={"verify": "true"}).text
    assert 'data-intact="yes"' in verified
    shown = re.search(r'<span class="count">(\d+)</span>', verified)
    checked = re.search(r"Hash chain intact: (\d+) entries verified", verified)
    assert shown and checked and shown.group(1) == checked.group(1)  # one count, not two
    with transaction(soc.ctx.sessions) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="mallory"))
    broken = soc.client.get("/audit", params={"verify": "true"}).text
    assert 'data-intact="no" data-first-broken="2"' in broken


def test_admins_create_and_revoke_api_tokens_in_the_console(soc: Soc) -> None:
    for user in ("city", "auditor"):
        soc.login(user)
        assert soc.client.get("/tokens").status_code == 403
    soc.login("admin")
    listed = soc.client.get("/tokens").text
    assert 'href="/tokens"' in listed and listed.count('data-state="active"') == len(soc.tokens)
    form = {"csrf": soc.csrf(), "name": "sensor-d1", "scope": "read", "agency": "d1", "days": "30"}
    assert soc.client.post("/tokens", data={**form, "csrf": "forged"}).status_code == 403
    unknown = soc.client.post("/tokens", data={**form, "agency": "atlantis"})
    assert unknown.status_code == 422 and "atlantis" in unknown.json()["error"]["message"]
    assert 'value="d1"' in listed and 'value="tanbinh"' in listed  # agencies to choose from
    made = soc.client.post("/tokens", data=form)
    found = re.search(r'<code id="issued-token">([^<]+)</code>', made.text)
    assert made.status_code == 200 and found is not None
    token_id = int(re.findall(r'data-token="(\d+)"', made.text)[0])  # newest first
    soc.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {found.group(1)}"}
    alerts = soc.client.get("/api/v1/alerts", headers=bearer).json()["items"]
    assert alerts and {a["agency"] for a in alerts} == {"d1"}
    soc.login("admin")
    assert found.group(1) not in soc.client.get("/tokens").text  # shown once only
    revoked = soc.client.post(f"/tokens/{token_id}/revoke", data={"csrf": soc.csrf()})
    assert f'data-token="{token_id}" data-state="revoked"' in revoked.text
    soc.client.cookies.clear()
    assert soc.client.get("/api/v1/alerts", headers=bearer).status_code == 401
    soc.login("auditor")
    trail = soc.client.get("/api/v1/audit", params={"object_type": "token"}).json()["items"]
    mine = [(e["action"], e["actor"]) for e in trail if e["object_id"] == str(token_id)]
    assert mine == [("token.revoke", "admin"), ("token.create", "admin")]


def test_the_queue_header_never_contradicts_the_list(soc: Soc) -> None:
    soc.ctx.scheduler.run_once()  # a run with nothing new after the one that raised the alerts
    soc.login("city")
    soc.client.post("/lang?back=/alerts", data={"csrf": soc.csrf(), "lang": "en"})
    head = soc.client.get("/alerts").text.split('id="last-run">', 1)[1].split("</p>", 1)[0]
    assert "Detections last ran at" in head
    assert "(12) were checked at" in head and "raised 2 new alerts city-wide" in head
    soc.client.post("/logout", data={"csrf": soc.csrf()})
    soc.login("d1")
    soc.client.post("/lang?back=/alerts", data={"csrf": soc.csrf(), "lang": "en"})
    head = soc.client.get("/alerts").text.split('id="last-run">', 1)[1].split("</p>", 1)[0]
    assert "The last new events were checked at" in head and "city-wide" not in head


def test_notes_and_assignments_from_the_incident_page(soc: Soc) -> None:
    soc.login("d1")
    incident = soc.client.get("/api/v1/incidents").json()["items"][0]["id"]
    page = soc.client.get(f"/incidents/{incident}").text
    assert 'id="incident-note-form"' in page
    form = {"csrf": soc.csrf(), "note": "blocked at the edge <b>now</b>", "assignee": "d1"}
    answer = soc.client.post(f"/incidents/{incident}/notes", data=form, follow_redirects=False)
    assert answer.status_code == 303
    page = soc.client.get(f"/incidents/{incident}").text
    assert "blocked at the edge &lt;b&gt;now&lt;/b&gt;" in page
    assert 'id="incident-assignee">d1<' in page
    forged = soc.client.post(f"/incidents/{incident}/notes", data={"csrf": "x", "note": "n"})
    assert forged.status_code == 403
    soc.login("auditor")  # reads the incident and its notes, writes none
    page = soc.client.get(f"/incidents/{incident}").text
    assert "blocked at the edge" in page and 'id="incident-note-form"' not in page
