"""Event search, pivot pages and paging through the API and the console, agency by agency:
an agency's analyst reads their agencies' events and alerts, other agencies only as counts."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from soc_api.db import transaction
from tests.unit.soc_api.conftest import ATTACKER, Soc
from tests.unit.soc_api.test_alert_search import alert

RULE = "credential_access_rtsp_brute_force"


@pytest.fixture
def busy(soc: Soc) -> Soc:
    """62 more alerts for District 1 and 9 for Tan Binh, all naming one scanner."""
    with transaction(soc.ctx.sessions) as session:
        for n in range(71):
            agency = "d1" if n < 62 else "tanbinh"
            session.add(
                alert(
                    f"discovery_scan_{n:02d}",
                    agency=agency,
                    risk_score=n % 7,
                    attacker="ip:198.51.100.9",
                    observables=["ip:198.51.100.9"],
                    last_seen=f"2026-11-2{n % 3}T0{n % 10}:00:00.000Z",
                )
            )
    return soc


def ids(page: dict[str, object]) -> list[int]:
    return [int(a["id"]) for a in page["items"]]  # type: ignore[attr-defined, index]


def test_alert_pages_are_stable_and_counted(busy: Soc) -> None:
    busy.login("city")
    query = {"q": "198.51.100.9", "sort": "risk"}
    pages = [
        busy.client.get("/api/v1/alerts", params={**query, "limit": 25, "offset": at}).json()
        for at in (0, 25, 50, 75)
    ]
    assert {p["total"] for p in pages} == {71}
    seen = [i for p in pages for i in ids(p)]
    assert len(seen) == len(set(seen)) == 71
    whole = busy.client.get("/api/v1/alerts", params={**query, "limit": 100}).json()
    assert ids(whole) == seen  # ties broken by id: the same order whichever page is read
    busy.login("d1")
    mine = busy.client.get("/api/v1/alerts", params={**query, "limit": 500}).json()
    assert mine["total"] == 62 and {a["agency"] for a in mine["items"]} == {"d1"}


def test_the_queue_pages_past_200_and_its_links_keep_the_query(busy: Soc) -> None:
    busy.login("city")
    page = busy.client.get("/alerts", params={"q": "198.51.100.9", "status": "new"})
    assert page.status_code == 200
    assert 'id="alert-total">71<' in page.text
    assert "1–50" in page.text
    found = re.search(r'rel="next" class="pager-next" href="([^"]+)"', page.text)
    assert found is not None
    link = found.group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(link).query) == {
        "q": ["198.51.100.9"], "status": ["new"], "offset": ["50"]
    }  # fmt: skip
    second = busy.client.get(link)
    assert "51–71" in second.text and 'rel="next"' not in second.text
    assert 'rel="prev"' in second.text
    rows = re.findall(r'<tr class="sev-[a-z]+" data-rule="([^"]+)"', second.text)
    assert len(rows) == 21


def test_a_query_the_queue_cannot_read_is_shown_with_its_column(soc: Soc) -> None:
    soc.login("city")
    page = soc.client.get("/alerts", params={"q": "risk_score:[1 TO"})
    assert page.status_code == 400
    assert 'id="query-error"' in page.text and "cột 17" in page.text  # Vietnamese first
    soc.client.cookies.set("citysoc_lang", "en")
    page = soc.client.get("/alerts", params={"q": "sorce.ip:1.2.3.4"})
    assert "column 1: unknown field &#39;sorce.ip&#39; for alerts" in page.text
    soc.client.cookies.delete("citysoc_lang")
    api = soc.client.get("/api/v1/alerts", params={"q": "sorce.ip:1.2.3.4"})
    assert api.status_code == 400
    assert api.json()["error"] == {
        "status": 400,
        "code": "QueryError",
        "message": "column 1: unknown field 'sorce.ip' for alerts",
    }


def test_event_search_is_cut_to_the_callers_agencies(soc: Soc) -> None:
    soc.login("city")
    everything = soc.client.get("/api/v1/events", params={"q": ATTACKER}).json()
    assert everything["total"] == 12
    soc.login("d1")
    mine = soc.client.get("/api/v1/events", params={"q": ATTACKER, "limit": 5}).json()
    assert mine["total"] == 6 and len(mine["items"]) == 5
    assert {e["organization.id"] for e in mine["items"]} == {"d1"}
    rest = soc.client.get("/api/v1/events", params={"q": ATTACKER, "offset": 5}).json()
    assert {e["event.id"] for e in rest["items"]}.isdisjoint(e["event.id"] for e in mine["items"])
    token = {"Authorization": f"Bearer {soc.tokens['read-tb']}"}
    soc.client.cookies.clear()
    theirs = soc.client.get(
        "/api/v1/events", params={"q": "destination.ip:10.32.0.0/16"}, headers=token
    )
    assert theirs.json()["total"] == 6
    other = {"q": "destination.ip:10.31.0.0/16"}
    assert soc.client.get("/api/v1/events", params=other, headers=token).json()["total"] == 0
    bad = soc.client.get("/api/v1/events", params={"q": "destination.port:[1 TO"}, headers=token)
    assert bad.status_code == 400 and "column 23" in bad.json()["error"]["message"]


def test_the_event_page_pages_and_keeps_its_query(soc: Soc) -> None:
    soc.login("city")
    page = soc.client.get("/events", params={"q": f"source.ip:{ATTACKER}", "limit": 25})
    assert page.status_code == 200 and 'id="event-total">12<' in page.text
    assert f"/pivot/ip/{ATTACKER}" in page.text  # every address is a pivot link
    assert 'rel="next"' not in page.text
    small = soc.client.get(
        "/events", params={"q": f"source.ip:{ATTACKER}", "limit": 100, "offset": 10}
    )
    assert small.status_code == 200 and "11–12" in small.text
    wrong = soc.client.get("/events", params={"q": 'user.name:"open'})
    assert wrong.status_code == 400 and "dấu ngoặc kép chưa được đóng" in wrong.text


def test_a_pivot_shows_the_city_every_agency(soc: Soc) -> None:
    soc.login("city")
    pivot = soc.client.get(f"/api/v1/pivot/ip/{ATTACKER}").json()
    assert [(s["agency"], s["events"], s["alerts"]) for s in pivot["agencies"]] == [
        ("d1", 6, 1),
        ("tanbinh", 6, 1),
    ]
    assert pivot["other_agencies"] is None
    assert pivot["first_seen"] == "2026-11-20T02:10:00.000Z"
    assert pivot["last_seen"] == "2026-11-20T02:10:10.000Z"
    assert pivot["events"]["total"] == 12 and pivot["alerts"]["total"] == 2
    assert len(pivot["incidents"]) == 1 and pivot["incidents"][0]["campaign"] is True


def test_a_pivot_shows_an_agency_analyst_other_agencies_as_counts_only(soc: Soc) -> None:
    soc.login("d1")
    pivot = soc.client.get(f"/api/v1/pivot/ip/{ATTACKER}").json()
    assert [s["agency"] for s in pivot["agencies"]] == ["d1"]
    assert pivot["other_agencies"] == {"agencies": 1, "events": 6, "alerts": 1}
    assert {e["organization.id"] for e in pivot["events"]["items"]} == {"d1"}
    assert {a["agency"] for a in pivot["alerts"]["items"]} == {"d1"}
    assert "tanbinh" not in str(pivot)  # nor its name, times or records
    page = soc.client.get(f"/pivot/ip/{ATTACKER}")
    assert page.status_code == 200 and 'id="pivot-others"' in page.text
    assert 'data-agency="tanbinh"' not in page.text and "10.32.0.21" not in page.text


def test_a_rule_pivot_reads_the_evidence_of_its_alerts(soc: Soc) -> None:
    soc.login("d1")
    pivot = soc.client.get(f"/api/v1/pivot/rule/{RULE}").json()
    assert pivot["event_query"] is None
    assert pivot["alerts"]["total"] == 1 and pivot["events"]["total"] == 6
    assert pivot["other_agencies"] == {"agencies": 1, "events": 6, "alerts": 1}


def test_pivot_pages_page_each_list(busy: Soc) -> None:
    busy.login("city")
    first = busy.client.get("/api/v1/pivot/ip/198.51.100.9", params={"limit": 25}).json()
    assert first["alerts"]["total"] == 71 and len(first["alerts"]["items"]) == 25
    page = busy.client.get("/pivot/ip/198.51.100.9", params={"alerts_offset": 25})
    link = re.search(
        r'id="alerts-pager".*?rel="next" class="pager-next" href="([^"]+)"', page.text, re.S
    )
    assert link is not None and "alerts_offset=50" in link.group(1)


def test_entities_link_to_their_pivot_and_bad_ones_are_refused(soc: Soc) -> None:
    soc.login("city")
    queue = soc.client.get("/alerts")
    assert f'href="/pivot/rule/{RULE}"' in queue.text
    assert f'href="/pivot/ip/{ATTACKER}"' in queue.text
    alert_id = soc.alert_of("d1")
    soc.login("city")
    detail = soc.client.get(f"/alerts/{alert_id}")
    assert f'href="/pivot/ip/{ATTACKER}"' in detail.text
    assert soc.client.get("/api/v1/pivot/ip/not-an-address").status_code == 422
    assert soc.client.get("/api/v1/pivot/planet/earth").status_code == 422
    soc.client.cookies.clear()
    assert soc.client.get(f"/api/v1/pivot/ip/{ATTACKER}").status_code == 401


def test_the_routes_are_in_the_openapi(soc: Soc) -> None:
    paths = soc.client.get("/openapi.json").json()["paths"]
    assert "/api/v1/events" in paths and "/api/v1/pivot/{kind}/{value}" in paths
    described = paths["/api/v1/events"]["get"]
    assert "400" in described["responses"]
    assert any(p["name"] == "q" for p in described["parameters"])


def test_ioc_values_and_incident_targets_link_to_their_pivot(soc: Soc) -> None:
    soc.login("city")
    digest = "a" * 64
    for kind, value in (("sha256", digest), ("ip", "198.51.100.7"), ("url", "http://x.test/")):
        answer = soc.client.post(
            "/api/v1/iocs", json={"kind": kind, "value": value, "tlp": "GREEN"}
        )
        assert answer.status_code == 201
    page = soc.client.get("/iocs")
    assert f'href="/pivot/hash/{digest}"' in page.text
    assert 'href="/pivot/ip/198.51.100.7"' in page.text
    assert "/pivot/url/" not in page.text  # a URL is not an entity with a page
    assert soc.client.get(f"/pivot/hash/{digest}").status_code == 200
