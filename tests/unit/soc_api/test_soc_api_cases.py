"""Cases over the API: opened from an incident, worked through their statuses, each agency
seeing its own part of a shared case and counts of the others, every change on the timeline
and in the audit chain, and nothing an analyst wrote lost when the alerts regroup."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from soc_api.alerts.models import Alert
from soc_api.audit.models import AuditEntry
from soc_api.audit.service import verify_chain
from soc_api.db import transaction

Soc = Any  # the seeded SOC helper of conftest.py


def campaign(soc: Soc) -> int:
    """The seeded attacker's incident: one alert in District 1, one in Tan Binh."""
    soc.login("city")
    items = soc.client.get("/api/v1/incidents").json()["items"]
    (incident,) = [i for i in items if i["campaign"]]
    return int(incident["id"])


def open_from(soc: Soc, incident: int, user: str = "city", **extra: Any) -> Any:
    soc.login(user)
    return soc.client.post("/api/v1/cases", json={"incident_id": incident, **extra})


def test_a_case_opened_from_a_campaign_takes_all_its_alerts_and_refuses_a_second(
    soc: Soc,
) -> None:
    incident = campaign(soc)
    opened = open_from(soc, incident)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["status"] == "new" and case["agencies"] == ["d1", "tanbinh"]
    assert len(case["alerts"]) == 2 and case["opened_from"] == incident
    assert "d1" not in case["title"] and "tanbinh" not in case["title"].lower()
    steps = [(s["action"], s["agency"]) for s in case["timeline"]]
    assert steps == [("opened", None), ("alerts_linked", "d1"), ("alerts_linked", "tanbinh")]
    again = open_from(soc, incident)
    assert again.status_code == 409 and f"case {case['id']}" in again.json()["error"]["message"]
    assert soc.client.get(f"/api/v1/incidents/{incident}/case").json()["id"] == case["id"]


def test_each_agency_sees_its_own_part_of_a_shared_case_and_counts_of_the_others(
    soc: Soc,
) -> None:
    case = open_from(soc, campaign(soc)).json()["id"]
    task = soc.client.post(
        f"/api/v1/cases/{case}/tasks", json={"title": "Isolate the camera", "agency": "tanbinh"}
    )
    assert task.status_code == 201 and task.json()["agency"] == "tanbinh"
    own = soc.client.post(f"/api/v1/cases/{case}/comments", json={"body": "SOC-only lead"})
    assert own.json()["agency"] is None  # a shared case: the city SOC's own part
    soc.login("d1")
    note = soc.client.post(f"/api/v1/cases/{case}/comments", json={"body": "camera rebooted"})
    assert note.status_code == 201 and note.json()["agency"] == "d1"
    refused = soc.client.post(
        f"/api/v1/cases/{case}/comments", json={"body": "x", "agency": "tanbinh"}
    )
    assert refused.status_code == 403
    seen = soc.client.get(f"/api/v1/cases/{case}").json()
    assert [a["agency"] for a in seen["alerts"]] == ["d1"]
    assert (seen["other_agencies"], seen["other_alerts"]) == (1, 1)
    assert (seen["other_tasks"], seen["other_comments"]) == (1, 1)
    assert [c["body"] for c in seen["comments"]] == ["camera rebooted"]
    assert seen["tasks"] == [] and not seen["manageable"]
    assert {s["agency"] for s in seen["timeline"]} <= {None, "d1"}
    assert "tanbinh" not in str(seen["timeline"]) and "Isolate" not in str(seen)
    tick = soc.client.patch(f"/api/v1/cases/{case}/tasks/{task.json()['id']}", json={"done": True})
    assert tick.status_code == 404  # another agency's task is not there for District 1
    assert (
        soc.client.patch(f"/api/v1/cases/{case}", json={"status": "in_progress"}).status_code == 403
    )
    soc.login("tb")
    seen = soc.client.get(f"/api/v1/cases/{case}").json()
    assert [t["title"] for t in seen["tasks"]] == ["Isolate the camera"] and seen["comments"] == []
    tick = soc.client.patch(f"/api/v1/cases/{case}/tasks/{task.json()['id']}", json={"done": True})
    assert tick.json()["done"] is True and tick.json()["done_by"] == "tb"
    soc.login("city")
    seen = soc.client.get(f"/api/v1/cases/{case}").json()
    assert len(seen["comments"]) == 2 and seen["other_comments"] == 0 and seen["manageable"]


def test_a_case_moves_through_its_statuses_with_an_owner_and_each_step_is_audited(
    soc: Soc,
) -> None:
    case = open_from(soc, campaign(soc)).json()["id"]
    url = f"/api/v1/cases/{case}"
    assert soc.client.patch(url, json={"owner": "d1"}).status_code == 422  # shared: not theirs
    assert soc.client.patch(url, json={"owner": "city", "severity": "critical"}).status_code == 200
    assert soc.client.patch(url, json={"status": "in_progress"}).json()["status"] == "in_progress"
    assert soc.client.patch(url, json={"status": "contained"}).json()["status"] == "contained"
    assert soc.client.patch(url, json={"status": "closed"}).status_code == 422  # no reason
    closed = soc.client.patch(url, json={"status": "closed", "close_reason": "true_positive"})
    assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "true_positive"
    assert soc.client.patch(url, json={"status": "contained"}).status_code == 409
    assert soc.client.patch(url, json={}).status_code == 422
    assert soc.client.patch(url, json={"status": "bogus"}).status_code == 422
    steps = [s["action"] for s in closed.json()["timeline"]]
    assert steps[-5:] == ["severity", "owner", "status", "status", "status"]
    with soc.ctx.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "case")
        ).all()
        assert verify_chain(session).intact
    assert actions.count("case.status") == 3 and "case.opened" in actions
    assert soc.client.get("/api/v1/cases", params={"status": "closed"}).json()["total"] == 1


def test_who_may_not_touch_a_case(soc: Soc) -> None:
    tb_alert, d1_alert = soc.alert_of("tanbinh"), soc.alert_of("d1")
    soc.login("tb")
    mine = soc.client.post("/api/v1/cases", json={"alert_ids": [tb_alert]})
    assert mine.status_code == 201 and mine.json()["manageable"]  # Tan Binh's case alone
    case = mine.json()["id"]
    assert soc.client.patch(f"/api/v1/cases/{case}", json={"owner": "tb"}).status_code == 200
    soc.login("d1")
    assert soc.client.get(f"/api/v1/cases/{case}").status_code == 404
    assert soc.client.get("/api/v1/cases").json()["total"] == 0
    linked = soc.client.post(f"/api/v1/cases/{case}/alerts", json={"alert_ids": [d1_alert]})
    assert linked.status_code == 404  # not District 1's case to grow
    soc.login("auditor")
    assert soc.client.get(f"/api/v1/cases/{case}").status_code == 200
    assert soc.client.post(f"/api/v1/cases/{case}/comments", json={"body": "x"}).status_code == 403
    soc.client.cookies.clear()
    headers = {"Authorization": f"Bearer {soc.tokens['read-tb']}"}
    assert soc.client.get(f"/api/v1/cases/{case}", headers=headers).status_code == 200
    write = soc.client.post(f"/api/v1/cases/{case}/comments", json={"body": "x"}, headers=headers)
    assert write.status_code == 403
    soc.login("city")
    assert soc.client.post("/api/v1/cases", json={}).status_code == 422
    assert soc.client.get("/api/v1/cases/999").status_code == 404


def test_notes_carried_into_the_case_and_kept_through_regrouping(soc: Soc) -> None:
    incident = campaign(soc)
    soc.login("d1")
    url = f"/api/v1/incidents/{incident}/notes"
    assert soc.client.post(url, json={"note": "seen from the VMS too"}).status_code == 201
    soc.login("city")
    assert soc.client.post(url, json={"assignee": "city"}).status_code == 201
    case = open_from(soc, incident).json()
    assert case["owner"] == "city"  # the latest assignment on the incident
    carried = {(c["agency"], c["body"]) for c in case["comments"]}
    assert ("d1", "seen from the VMS too") in carried
    # the incident regroups: its first alert is closed as a false positive and leaves it
    first = min(a["id"] for a in case["alerts"])
    patch = {"status": "closed", "close_reason": "false_positive"}
    assert soc.client.patch(f"/api/v1/alerts/{first}", json=patch).status_code == 200
    items = soc.client.get("/api/v1/incidents").json()["items"]
    assert incident not in [i["id"] for i in items]
    (rest,) = [i["id"] for i in items]
    assert soc.client.get(f"/api/v1/incidents/{rest}/case").json()["id"] == case["id"]
    kept = soc.client.get(f"/api/v1/cases/{case['id']}").json()
    assert kept["owner"] == "city" and len(kept["alerts"]) == 2
    assert {c["body"] for c in kept["comments"]} == {c["body"] for c in case["comments"]}
    # a later alert of the same attacker joins the incident; sync takes it and a new note in
    with transaction(soc.ctx.sessions) as session:
        template = session.get(Alert, rest)
        assert template is not None
        late = Alert(
            **{
                c.name: getattr(template, c.name)
                for c in Alert.__table__.columns
                if c.name not in ("id", "created_at", "updated_at")
            }
        )
        late.dedup_key, late.rule_id = "late|1", "late_rule"
        session.add(late)
    assert (
        soc.client.post(f"/api/v1/incidents/{rest}/notes", json={"note": "later"}).status_code
        == 201
    )
    synced = soc.client.post(f"/api/v1/cases/{case['id']}/sync").json()
    assert len(synced["alerts"]) == 3 and "later" in {c["body"] for c in synced["comments"]}
    assert soc.client.post(f"/api/v1/cases/{case['id']}/sync").json() == synced  # nothing new
