"""The SOC API on the engine store: detections raise alerts from events in the engine, the
API and the console read their evidence from it, and ingest writes into it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citysoc.core.ecs import event_id
from citysoc.core.errors import ConfigError
from citysoc.core.settings import Settings
from eventstore.engine.client import EngineClient
from eventstore.engine.store import EngineEventStore
from soc_api.app import create_app
from soc_api.auth.models import Role, TokenScope
from soc_api.auth.service import upsert_user
from soc_api.auth.tokens import create_token
from soc_api.context import SocContext, build_context
from soc_api.db import transaction

ATTACKER = "203.0.113.50"
PASSWORD = "correct horse battery"


def rtsp_failure(second: int, camera: str, agency: str) -> dict[str, object]:
    return {
        "event.id": event_id(camera, ATTACKER, second),
        "@timestamp": f"2026-11-20T02:10:{second:02d}.000Z",
        "event.dataset": "network_traffic.rtsp",
        "network.protocol": "rtsp",
        "rtsp.response.status_code": 401,
        "source.ip": ATTACKER,
        "destination.ip": camera,
        "organization.id": agency,
        "citysoc.segment": f"cam-{agency}",
        "citysoc.security_level": 2,
    }


def seed(ctx: SocContext) -> None:
    assert isinstance(ctx.store, EngineEventStore)
    ctx.store.write([rtsp_failure(s, "10.31.0.21", "d1") for s in range(0, 12, 2)])
    ctx.store.write([rtsp_failure(s, "10.32.0.21", "tanbinh") for s in range(0, 12, 2)])
    ctx.store.settle()  # the ingest second has passed: head() covers it
    run = ctx.scheduler.run_once()
    assert (run.events, run.created) == (12, 2), run


@pytest.fixture
def engine_settings(tmp_path: Path, engine_url: str, engine_client: EngineClient) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        event_store=engine_url,
        detection_settle_seconds=0,
        detection_interval_seconds=3600,
        ingest_rate_per_second=1000.0,
    )


@pytest.fixture
def api(engine_settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(engine_settings, startup=(seed,))) as client:
        ctx: SocContext = client.app.state.ctx  # type: ignore[attr-defined]
        tokens = {}
        with transaction(ctx.sessions) as session:
            upsert_user(session, username="city", password=PASSWORD,
                        role=Role.CITY_ANALYST, agency=None)  # fmt: skip
            for name, scope, agency in (
                ("read-tb", TokenScope.READ, "tanbinh"),
                ("read-city", TokenScope.READ, None),
                ("ingest-d1", TokenScope.INGEST, "d1"),
            ):
                tokens[name] = create_token(
                    session, name=name, scope=scope, agency=agency, days=1, actor="test"
                ).token
        yield client, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_alerts_raised_from_the_engine_show_their_evidence_per_agency(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    city = client.get("/api/v1/alerts", headers=bearer(tokens["read-city"])).json()["items"]
    assert {a["agency"] for a in city} == {"d1", "tanbinh"}
    mine = client.get("/api/v1/alerts", headers=bearer(tokens["read-tb"])).json()["items"]
    assert [a["agency"] for a in mine] == ["tanbinh"]
    detail = client.get(f"/api/v1/alerts/{mine[0]['id']}", headers=bearer(tokens["read-tb"]))
    evidence = detail.json()["evidence"]
    assert len(evidence) == 6 and {e["organization.id"] for e in evidence} == {"tanbinh"}
    assert {e["destination.ip"] for e in evidence} == {"10.32.0.21"}


def test_ingest_through_the_api_lands_in_the_engine(
    api: tuple[TestClient, dict[str, str]], engine_client: EngineClient
) -> None:
    client, tokens = api
    line = '{"@timestamp":"2026-11-20T03:00:00Z","event.id":"api-1","source.ip":"10.31.0.9"}'
    answer = client.post(
        "/api/v1/ingest",
        content=line + "\n",
        headers={**bearer(tokens["ingest-d1"]), "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text
    store = EngineEventStore(engine_client)
    store.refresh()
    (event,) = store.get(["api-1"])
    assert event["organization.id"] == "d1"


def test_an_engine_without_citysocs_templates_is_refused_at_start(
    engine_settings: Settings, engine_client: EngineClient
) -> None:
    engine_client.request("DELETE", "/_index_template/citysoc-logs")
    with pytest.raises(ConfigError, match="citysoc store init"):
        build_context(engine_settings)


def test_the_console_shows_evidence_read_from_the_engine(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    alerts = client.get("/api/v1/alerts", headers=bearer(tokens["read-city"])).json()["items"]
    tanbinh = next(a for a in alerts if a["agency"] == "tanbinh")
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"username": "city", "password": PASSWORD, "csrf": csrf.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    detail = client.get(f"/alerts/{tanbinh['id']}")
    assert detail.status_code == 200
    assert "10.32.0.21" in detail.text and ATTACKER in detail.text
