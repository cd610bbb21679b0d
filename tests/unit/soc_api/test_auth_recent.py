"""Credentials remembered for a moment (``soc_api.auth.recent``): a token or console session
revoked in this process is refused at once; one revoked by another process (the CLI, another
API worker) within ``TTL_SECONDS``; none outlives its own expiry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from soc_api.auth.models import ApiToken, ConsoleSession, Principal, Role
from soc_api.auth.recent import TTL_SECONDS, RecentCredentials, recent
from soc_api.auth.service import disable_user
from soc_api.auth.tokens import revoke_token
from soc_api.db import transaction

Soc = Any  # the seeded SOC helper of conftest.py
WHO = Principal(7, "city", Role.CITY_ANALYST, None)
KEY = ("token", 1, "digest")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The process's memory of credentials, on a clock the test moves."""
    fake = Clock()
    monkeypatch.setattr(recent, "_clock", fake)
    recent.forget_all()
    yield fake
    recent.forget_all()


def test_the_bound_is_short() -> None:
    assert 0 < TTL_SECONDS <= 2


def test_an_entry_lives_its_time_and_no_longer() -> None:
    clock = Clock()
    kept = RecentCredentials(1.0, clock=clock, wall=lambda: 0.0)
    kept.put(KEY, WHO, "2026-12-02T10:00:00Z")
    clock.now += 0.9
    assert kept.get(KEY) == WHO
    clock.now += 0.1
    assert kept.get(KEY) is None
    assert kept.get(("session", 1, "digest")) is None


def test_an_entry_never_outlives_its_credential() -> None:
    clock = Clock()
    wall = Clock()
    wall.now = 1796202000.0 - 0.5  # half a second before 2026-12-02T09:00:00Z
    kept = RecentCredentials(1.0, clock=clock, wall=wall)
    kept.put(KEY, WHO, "2026-12-02T09:00:00Z")
    assert kept.get(KEY) == WHO
    wall.now += 0.5
    assert kept.get(KEY) is None


def test_forgetting_all_forgets_all() -> None:
    kept = RecentCredentials(60.0)
    kept.put(KEY, WHO, "2999-01-01T00:00:00Z")
    kept.forget_all()
    assert kept.get(KEY) is None


def bearer(soc: Soc, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {soc.tokens[name]}"}


def test_a_token_revoked_elsewhere_is_refused_within_the_bound(soc: Soc, clock: Clock) -> None:
    headers = bearer(soc, "read-city")
    assert soc.client.get("/api/v1/alerts", headers=headers).status_code == 200
    with transaction(soc.ctx.sessions) as session:  # as `citysoc token revoke` does, elsewhere
        session.execute(update(ApiToken).where(ApiToken.name == "read-city").values(revoked=True))
    clock.now += TTL_SECONDS
    assert soc.client.get("/api/v1/alerts", headers=headers).status_code == 401


def test_a_token_revoked_here_is_refused_at_once(soc: Soc, clock: Clock) -> None:
    headers = bearer(soc, "read-d1")
    assert soc.client.get("/api/v1/alerts", headers=headers).status_code == 200
    with transaction(soc.ctx.sessions) as session:
        row = session.query(ApiToken).filter_by(name="read-d1").one()
        assert revoke_token(session, token_id=row.id, actor="test")
    assert soc.client.get("/api/v1/alerts", headers=headers).status_code == 401


def test_a_session_revoked_elsewhere_is_refused_within_the_bound(soc: Soc, clock: Clock) -> None:
    assert soc.login("city") == 303
    assert soc.client.get("/api/v1/alerts").status_code == 200
    with transaction(soc.ctx.sessions) as session:  # another worker's logout
        session.execute(update(ConsoleSession).values(revoked_at="2026-12-02T09:00:00Z"))
    clock.now += TTL_SECONDS
    assert soc.client.get("/api/v1/alerts").status_code == 401


def test_logout_and_a_disabled_user_are_refused_at_once(soc: Soc, clock: Clock) -> None:
    assert soc.login("city") == 303
    assert soc.client.get("/api/v1/alerts").status_code == 200
    stolen = soc.client.cookies.get("citysoc_session")
    soc.client.post("/logout", data={"csrf": soc.csrf()})
    soc.client.cookies.clear()
    soc.client.cookies.set("citysoc_session", stolen)
    assert soc.client.get("/api/v1/alerts").status_code == 401

    assert soc.login("d1") == 303
    assert soc.client.get("/api/v1/alerts").status_code == 200
    with transaction(soc.ctx.sessions) as session:
        disable_user(session, username="d1", actor="test")
    assert soc.client.get("/api/v1/alerts").status_code == 401


def test_a_remembered_token_answers_as_its_lookup_did(soc: Soc, clock: Clock) -> None:
    headers = bearer(soc, "read-tb")
    first = soc.client.get("/api/v1/alerts", headers=headers).json()
    again = soc.client.get("/api/v1/alerts", headers=headers).json()
    assert first == again and {a["agency"] for a in first["items"]} == {"tanbinh"}
