"""Campaigns across agencies and IOCs under TLP: who sees what, and IOC matches raising alerts."""

from __future__ import annotations

import json
from typing import Any

Soc = Any  # the seeded SOC helper of conftest.py

STIX_BUNDLE = {
    "type": "bundle",
    "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": [
        {
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
            "name": "RTSP brute forcer", "pattern": "[ipv4-addr:value = '203.0.113.50']",
            "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
            "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
        },
        {
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--a1b2c3d4-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
            "pattern": "[process:name = 'x'] AND [file:name = 'y']",
            "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
        },
    ],
}  # fmt: skip


def test_city_sees_the_whole_campaign(soc: Soc) -> None:
    soc.login("city")
    incidents = soc.client.get("/api/v1/incidents", params={"campaigns_only": True}).json()
    assert incidents["total"] == 1
    campaign = soc.client.get(f"/api/v1/incidents/{incidents['items'][0]['id']}").json()
    assert campaign["campaign"] and campaign["agencies"] == ["d1", "tanbinh"]
    assert campaign["other_agencies"] == 0 and "ip:203.0.113.50" in campaign["shared_observables"]
    assert [e["agency"] for e in campaign["timeline"]] == ["d1", "tanbinh"]


def test_agency_sees_its_part_and_counts_of_the_rest(soc: Soc) -> None:
    soc.login("d1")
    incident_id = soc.client.get("/api/v1/incidents").json()["items"][0]["id"]
    response = soc.client.get(f"/api/v1/incidents/{incident_id}")
    campaign = response.json()
    assert campaign["campaign"] and campaign["agencies"] == ["d1"]
    assert (campaign["other_agencies"], campaign["other_alerts"]) == (1, 1)
    assert "tanbinh" not in response.text and "10.32.0.21" not in response.text
    page = soc.client.get(f"/incidents/{incident_id}").text
    assert 'id="agency-graph"' in page and 'data-agency="d1"' in page
    assert "tanbinh" not in page and "+1" in page


def test_tlp_decides_who_sees_an_ioc(soc: Soc) -> None:
    soc.login("d1")
    for value, tlp, audience in (("red.example", "RED", []), ("strict.example", "AMBER+STRICT", []),
                                 ("amber.example", "AMBER", ["tanbinh"]),
                                 ("green.example", "GREEN", [])):  # fmt: skip
        body = {"kind": "domain", "value": value, "tlp": tlp, "audience": audience}
        assert soc.client.post("/api/v1/iocs", json=body).status_code == 201
    seen = {
        user: {i["value"] for i in soc.client.get("/api/v1/iocs").json()["items"]}
        for user in ("d1", "tb", "city")
        if soc.login(user) == 303
    }
    assert seen["d1"] == {"red.example", "strict.example", "amber.example", "green.example"}
    assert seen["tb"] == {"amber.example", "green.example"}
    assert seen["city"] == {"strict.example", "amber.example", "green.example"}


def test_stix_import_raises_alerts_in_both_agencies(soc: Soc) -> None:
    soc.login("city")
    response = soc.client.post("/api/v1/iocs/import", content=json.dumps(STIX_BUNDLE),
                               headers={"content-type": "application/json"})  # fmt: skip
    report = response.json()
    assert (report["created"], report["rejected"]) == (1, 1)
    ioc = soc.client.get("/api/v1/iocs").json()["items"][0]
    assert (ioc["value"], ioc["tlp"], ioc["owner_agency"]) == ("203.0.113.50", "GREEN", None)
    matches = soc.client.get("/api/v1/alerts", params={"rule": "ioc_match_ip"}).json()
    assert sorted(a["agency"] for a in matches["items"]) == ["d1", "tanbinh"]


def test_csv_import_reports_bad_rows_by_line(soc: Soc) -> None:
    soc.login("tb")
    body = "kind,value,tlp\nip,203.0.113.50,RED\nip,not-an-ip,GREEN\nhash,abc,GREEN\n"
    report = soc.client.post("/api/v1/iocs/import", content=body,
                             headers={"content-type": "text/csv"}).json()  # fmt: skip
    assert report["created"] == 1 and [e["item"] for e in report["errors"]] == [3, 4]
    matched = soc.client.get("/api/v1/alerts", params={"rule": "ioc_match_ip"}).json()
    assert [a["agency"] for a in matched["items"]] == ["tanbinh"]  # RED: only its owner's events
    soc.login("d1")
    assert soc.client.get("/api/v1/alerts", params={"rule": "ioc_match_ip"}).json()["total"] == 0


def test_rules_show_status_last_hit_and_coverage(soc: Soc) -> None:
    soc.login("ops")
    catalog = soc.client.get("/api/v1/rules").json()
    rtsp = next(r for r in catalog["rules"] if r["name"] == "credential_access_rtsp_brute_force")
    assert rtsp["status"] == "active" and rtsp["alerts"] == 2 and rtsp["last_hit"]
    assert "credential_access" in catalog["coverage"]
    assert "credential_access_rtsp_brute_force" in soc.client.get("/rules").text
