"""The SOC API end to end in-process: login, CSRF, alerts, per-agency scope, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from citysoc.core.ecs import event_id
from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.models import Role
from soc_api.auth.service import upsert_user
from soc_api.context import SocContext
from soc_api.db import transaction

PASSWORD = "correct horse battery"


def rtsp_failure(second: int, camera: str, agency: str) -> dict[str, object]:
    return {
        "event.id": event_id(camera, second),
        "@timestamp": f"2026-11-20T02:10:{second:02d}.000Z",
        "network.protocol": "rtsp",
        "rtsp.response.status_code": 401,
        "source.ip": "203.0.113.50",
        "destination.ip": camera,
        "organization.id": agency,
        "citysoc.segment": f"cam-{agency}",
        "citysoc.security_level": 2,
    }


def seed(ctx: SocContext) -> None:
    with transaction(ctx.sessions) as session:
        upsert_user(session, username="city", password=PASSWORD, role=Role.CITY_ANALYST)
        upsert_user(
            session, username="d1", password=PASSWORD, role=Role.AGENCY_ANALYST, agency="d1"
        )
        upsert_user(
            session, username="tb", password=PASSWORD, role=Role.AGENCY_ANALYST, agency="tanbinh"
        )
    ctx.store.write([rtsp_failure(s, "10.31.0.21", "d1") for s in range(0, 12, 2)])
    ctx.store.write([rtsp_failure(s, "10.32.0.21", "tanbinh") for s in range(0, 12, 2)])
    run = ctx.scheduler.run_once()
    assert run.created == 2


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, startup=(seed,))) as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token.group(1)},
        follow_redirects=False,
    )
    return response.status_code


def test_alerts_need_a_session(client: TestClient) -> None:
    response = client.get("/api/v1/alerts")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationError"


def test_city_analyst_sees_every_agency(client: TestClient) -> None:
    assert login(client, "city") == 303
    page = client.get("/api/v1/alerts").json()
    assert page["total"] == 2
    assert {a["agency"] for a in page["items"]} == {"d1", "tanbinh"}
    assert {a["rule_name"] for a in page["items"]} == {"credential_access_rtsp_brute_force"}


@pytest.mark.parametrize(("user", "agency"), [("d1", "d1"), ("tb", "tanbinh")])
def test_agency_analyst_sees_only_their_agency(client: TestClient, user: str, agency: str) -> None:
    assert login(client, user) == 303
    page = client.get("/api/v1/alerts").json()
    assert [a["agency"] for a in page["items"]] == [agency]
    html = client.get("/alerts").text
    other = "tanbinh" if agency == "d1" else "d1"
    assert f'data-agency="{agency}"' in html and f'data-agency="{other}"' not in html


def test_wrong_password_and_forged_form_are_refused(client: TestClient) -> None:
    assert login(client, "city", "wrong password") == 401
    response = client.post("/login", data={"username": "city", "password": PASSWORD, "csrf": "x"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_console_lists_alerts_with_security_headers(client: TestClient) -> None:
    assert client.get("/alerts", follow_redirects=False).headers["location"] == "/login"
    login(client, "city")
    response = client.get("/alerts")
    assert response.status_code == 200
    assert response.text.count('data-rule="credential_access_rtsp_brute_force"') == 2
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_filters_and_validation_errors(client: TestClient) -> None:
    login(client, "city")
    assert client.get("/api/v1/alerts", params={"status": "closed"}).json()["total"] == 0
    assert client.get("/api/v1/alerts", params={"severity": "high"}).json()["total"] == 2
    bad = client.get("/api/v1/alerts", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.json()["error"]["message"]


def test_repeat_events_fold_into_the_open_alert(client: TestClient) -> None:
    ctx: SocContext = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.store.write([rtsp_failure(s, "10.31.0.21", "d1") for s in range(20, 32, 2)])
    run = ctx.scheduler.run_once()
    assert (run.created, run.updated) == (0, 1)
    login(client, "city")
    items = client.get("/api/v1/alerts", params={"rule": "credential_access_rtsp_brute_force"})
    counts = sorted(a["event_count"] for a in items.json()["items"])
    assert counts == [6, 12]


def test_health_reports_rules_and_events(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["events"] == 12 and body["rules"] >= 3
