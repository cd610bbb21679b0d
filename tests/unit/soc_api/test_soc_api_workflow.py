"""Triage through the API: detail with evidence and runbook, transitions, assign, bulk, sort."""

from __future__ import annotations

from typing import Any

Soc = Any  # the seeded SOC helper of conftest.py


def test_detail_has_evidence_runbook_and_next_steps(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    body = soc.client.get(f"/api/v1/alerts/{alert_id}").json()
    assert body["alert"]["agency"] == "d1"
    assert len(body["evidence"]) == 6
    assert {e["destination.ip"] for e in body["evidence"]} == {"10.31.0.21"}
    assert "d1" in body["runbook_markdown"] and "{{" not in body["runbook_markdown"]
    assert body["allowed_transitions"] == ["acknowledged", "in_progress", "closed"]


def test_walk_new_acknowledged_in_progress_closed(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    url = f"/api/v1/alerts/{alert_id}"
    assert soc.client.patch(url, json={"status": "acknowledged"}).json()["status"] == "acknowledged"
    started = soc.client.patch(url, json={"status": "in_progress", "assignee": "d1"}).json()
    assert (started["status"], started["assignee"]) == ("in_progress", "d1")
    refused = soc.client.patch(url, json={"status": "closed"})
    assert refused.status_code == 422 and "close_reason" in refused.json()["error"]["message"]
    closed = soc.client.patch(
        url, json={"status": "closed", "close_reason": "true_positive", "note": "blocked at edge"}
    ).json()
    assert (closed["status"], closed["close_reason"]) == ("closed", "true_positive")
    assert "blocked at edge" in closed["note"] and closed["closed_at"]
    backwards = soc.client.patch(url, json={"status": "acknowledged"})
    assert backwards.status_code == 409 and backwards.json()["error"]["code"] == "ConflictError"


def test_assign_only_to_someone_who_can_see_it(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("city")
    url = f"/api/v1/alerts/{alert_id}"
    assert soc.client.patch(url, json={"assignee": "tb"}).status_code == 422
    assert soc.client.patch(url, json={"assignee": "auditor"}).status_code == 422
    assert soc.client.patch(url, json={"assignee": "d1"}).json()["assignee"] == "d1"
    assert soc.client.get("/api/v1/alerts", params={"assignee": "d1"}).json()["total"] == 1


def test_bulk_reports_each_alert(soc: Soc) -> None:
    d1, tb = soc.alert_of("d1"), soc.alert_of("tanbinh")
    soc.login("d1")
    body = {"ids": [d1, tb, 999999], "status": "closed", "close_reason": "benign"}
    result = soc.client.post("/api/v1/alerts/bulk", json=body).json()
    assert result["updated"] == [d1]
    assert set(result["failed"]) == {str(tb), "999999"}


def test_read_only_roles_cannot_triage(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    for user, expected in (("auditor", 403), ("ops", 403)):
        soc.login(user)
        response = soc.client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "acknowledged"})
        assert response.status_code == expected, user
    reader = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    soc.client.cookies.clear()
    assert soc.client.get("/api/v1/alerts", headers=reader).json()["total"] == 2
    response = soc.client.patch(
        f"/api/v1/alerts/{alert_id}", json={"status": "acknowledged"}, headers=reader
    )
    assert response.status_code == 403


def test_filters_sort_and_paging(soc: Soc) -> None:
    soc.login("city")
    page = soc.client.get("/api/v1/alerts", params={"limit": 1, "sort": "newest"}).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (2, 1, 1)
    second = soc.client.get("/api/v1/alerts", params={"limit": 1, "offset": 1}).json()
    assert second["items"][0]["id"] != page["items"][0]["id"]
    assert soc.client.get("/api/v1/alerts", params={"q": "RTSP"}).json()["total"] == 2
    assert soc.client.get("/api/v1/alerts", params={"q": "no such"}).json()["total"] == 0
    assert soc.client.get("/api/v1/alerts", params={"sort": "sideways"}).status_code == 422


def test_export_is_audited(soc: Soc) -> None:
    soc.login("d1")
    export = soc.client.get("/api/v1/alerts/export")
    assert export.status_code == 200 and export.text.count("\n") == 2  # header + d1's alert
    assert "tanbinh" not in export.text
    soc.login("auditor")
    entries = soc.client.get("/api/v1/audit", params={"object_type": "export"}).json()["items"]
    assert entries[0]["action"] == "alert.export" and entries[0]["actor"] == "d1"
