"""A seeded SOC API in-process: users of every role in two agencies, alerts in both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from citysoc.core.ecs import event_id
from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.models import Role, TokenScope
from soc_api.auth.service import upsert_user
from soc_api.auth.tokens import create_token
from soc_api.context import SocContext
from soc_api.db import transaction

PASSWORD = "correct horse battery"
ATTACKER = "203.0.113.50"
USERS = {
    "city": (Role.CITY_ANALYST, None),
    "d1": (Role.AGENCY_ANALYST, "d1"),
    "tb": (Role.AGENCY_ANALYST, "tanbinh"),
    "auditor": (Role.AUDITOR, None),
    "aud-d1": (Role.AUDITOR, "d1"),
    "aud-tb": (Role.AUDITOR, "tanbinh"),
    "ops": (Role.OPS, None),
    "admin": (Role.ADMIN, None),
}


def rtsp_failure(
    second: int, camera: str, agency: str, attacker: str = ATTACKER
) -> dict[str, object]:
    return {
        "event.id": event_id(camera, attacker, second),
        "@timestamp": f"2026-11-20T02:10:{second:02d}.000Z",
        "network.protocol": "rtsp",
        "rtsp.response.status_code": 401,
        "source.ip": attacker,
        "destination.ip": camera,
        "organization.id": agency,
        "citysoc.segment": f"cam-{agency}",
        "citysoc.security_level": 2,
    }


@dataclass
class Soc:
    client: TestClient
    ctx: SocContext
    tokens: dict[str, str]

    def login(self, username: str, password: str = PASSWORD) -> int:
        self.client.cookies.clear()
        page = self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        form = {"username": username, "password": password, "csrf": token.group(1)}
        return self.client.post("/login", data=form, follow_redirects=False).status_code

    def csrf(self) -> str:
        page = self.client.get("/alerts")
        found = re.search(r'name="csrf" content="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    def alert_of(self, agency: str) -> int:
        self.login("city")
        items = self.client.get("/api/v1/alerts", params={"agency": agency}).json()["items"]
        self.client.cookies.clear()
        return int(items[0]["id"])


def seed(ctx: SocContext) -> None:
    with transaction(ctx.sessions) as session:
        for name, (role, agency) in USERS.items():
            upsert_user(session, username=name, password=PASSWORD, role=role, agency=agency)
    ctx.store.write([rtsp_failure(s, "10.31.0.21", "d1") for s in range(0, 12, 2)])
    ctx.store.write([rtsp_failure(s, "10.32.0.21", "tanbinh") for s in range(0, 12, 2)])
    run = ctx.scheduler.run_once()
    assert run.created == 2


@pytest.fixture
def soc(settings: Settings, cheap_passwords: None) -> Iterator[Soc]:
    fast = settings.model_copy(
        update={"ingest_rate_per_second": 1000.0, "login_attempts_per_minute": 1000.0}
    )
    with TestClient(create_app(fast, startup=(seed,))) as client:
        ctx: SocContext = client.app.state.ctx  # type: ignore[attr-defined]
        tokens = {}
        with transaction(ctx.sessions) as session:
            for name, scope, agency in (
                ("ingest-any", TokenScope.INGEST, None),
                ("ingest-d1", TokenScope.INGEST, "d1"),
                ("read-d1", TokenScope.READ, "d1"),
                ("read-tb", TokenScope.READ, "tanbinh"),
                ("read-city", TokenScope.READ, None),
            ):
                tokens[name] = create_token(
                    session, name=name, scope=scope, agency=agency, days=1, actor="test"
                ).token
        yield Soc(client, ctx, tokens)
