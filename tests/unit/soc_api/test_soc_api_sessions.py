"""Console sessions: kept on the server, revoked for good; the signing key; the login limiter.

Reproducers: a cookie signed with the public placeholder key as ``{"user_id": <admin>}`` gave
admin; a cookie kept after logout or a password change still worked; rotating
``X-Forwarded-For`` from loopback gave every login attempt a fresh budget.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import itsdangerous
import pytest
from fastapi.testclient import TestClient

from citysoc.core.errors import ConfigError
from citysoc.core.settings import PLACEHOLDER_SECRET, Settings
from soc_api.app import create_app
from soc_api.auth.clients import client_address, parse_proxies
from soc_api.auth.models import Role
from soc_api.auth.secret import KEY_FILE_NAME, install_secret, session_secret
from soc_api.auth.service import disable_user, upsert_user
from soc_api.db import transaction

Soc = Any  # the seeded SOC helper of conftest.py
PASSWORD = "correct horse battery"


def forged_cookie(key: str, payload: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it."""
    data = base64.b64encode(json.dumps(payload).encode())
    return itsdangerous.TimestampSigner(key).sign(data).decode()


def admin_id(soc: Soc) -> int:
    soc.login("admin")
    soc.client.cookies.clear()
    with soc.ctx.sessions() as session:
        from soc_api.auth.models import User

        user = session.query(User).filter_by(username="admin").one()
        return int(user.id)


def test_the_placeholder_key_forges_nothing(soc: Soc, settings: Settings) -> None:
    assert settings.secret_key.get_secret_value() == PLACEHOLDER_SECRET  # none configured
    for payload in ({"user_id": admin_id(soc)}, {"sid": "guess"}):
        soc.client.cookies.set("citysoc_session", forged_cookie(PLACEHOLDER_SECRET, payload))
        assert soc.client.get("/api/v1/alerts").status_code == 401
        assert soc.client.get("/alerts", follow_redirects=False).status_code == 303


def test_even_the_installs_own_key_cannot_forge_a_user_id(soc: Soc, settings: Settings) -> None:
    key = (settings.data_dir / KEY_FILE_NAME).read_text().strip()
    soc.client.cookies.set("citysoc_session", forged_cookie(key, {"user_id": admin_id(soc)}))
    assert soc.client.get("/api/v1/alerts").status_code == 401


def test_the_generated_key_is_private_random_and_kept(tmp_path: Path) -> None:
    first = session_secret(Settings(data_dir=tmp_path / "a"))
    path = tmp_path / "a" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and first != PLACEHOLDER_SECRET
    assert session_secret(Settings(data_dir=tmp_path / "a")) == first
    assert session_secret(Settings(data_dir=tmp_path / "b")) != first
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    configured = Settings(data_dir=tmp_path / "c", secret_key="k" * 40)  # type: ignore[arg-type]
    assert session_secret(configured) == "k" * 40
    assert not (tmp_path / "c" / KEY_FILE_NAME).exists()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    install_secret(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        install_secret(path)


def test_logout_ends_the_session_for_a_copied_cookie(soc: Soc) -> None:
    soc.login("city")
    stolen = soc.client.cookies.get("citysoc_session")
    assert soc.client.get("/api/v1/alerts").status_code == 200
    assert soc.client.post("/logout", data={"csrf": soc.csrf()}).status_code in (200, 303)
    soc.client.cookies.clear()
    soc.client.cookies.set("citysoc_session", stolen)
    assert soc.client.get("/api/v1/alerts").status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"password": "another long password"},
        {"role": Role.AUDITOR},
        {"agency": "d1", "role": Role.AGENCY_ANALYST},
    ],
    ids=["password", "role", "agency"],
)
def test_changing_a_user_ends_its_sessions(soc: Soc, change: dict[str, Any]) -> None:
    soc.login("city")
    assert soc.client.get("/api/v1/alerts").status_code == 200
    values = {"password": PASSWORD, "role": Role.CITY_ANALYST, "agency": None, **change}
    with transaction(soc.ctx.sessions) as session:
        upsert_user(session, username="city", actor="test", **values)
    assert soc.client.get("/api/v1/alerts").status_code == 401


def test_disabling_a_user_ends_its_sessions_and_logins(soc: Soc) -> None:
    soc.login("d1")
    assert soc.client.get("/api/v1/alerts").status_code == 200
    with transaction(soc.ctx.sessions) as session:
        disable_user(session, username="d1", actor="test")
    assert soc.client.get("/api/v1/alerts").status_code == 401
    assert soc.login("d1") == 401


def test_a_new_login_does_not_revive_an_old_session(soc: Soc) -> None:
    soc.login("city")
    old = soc.client.cookies.get("citysoc_session")
    soc.client.post("/logout", data={"csrf": soc.csrf()})
    soc.login("city")
    soc.client.cookies.clear()
    soc.client.cookies.set("citysoc_session", old)
    assert soc.client.get("/api/v1/alerts").status_code == 401


def limited_app(settings: Settings, **update: object) -> TestClient:
    strict = settings.model_copy(update={"login_attempts_per_minute": 3.0, **update})

    def seed(ctx: Any) -> None:
        with transaction(ctx.sessions) as session:
            upsert_user(session, username="city", password=PASSWORD, role=Role.CITY_ANALYST)

    return TestClient(create_app(strict, startup=(seed,)), client=("127.0.0.1", 50000))


def attempt(client: TestClient, password: str, forwarded: str | None = None) -> int:
    client.cookies.clear()
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    form = {"username": "city", "password": password, "csrf": csrf}
    return client.post("/login", data=form, headers=headers, follow_redirects=False).status_code


def test_rotating_x_forwarded_for_does_not_reset_the_limit(settings: Settings) -> None:
    with limited_app(settings) as client:
        codes = [attempt(client, "wrong", f"198.51.100.{n}") for n in range(1, 9)]
    assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}


def test_the_account_is_limited_whatever_the_client(settings: Settings) -> None:
    with limited_app(settings, trusted_proxies="127.0.0.1") as client:
        # a trusted proxy in front: each attempt from a different client address
        codes = [attempt(client, "wrong", f"198.51.100.{n}") for n in range(1, 9)]
    assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}


class FakeRequest:
    def __init__(self, peer: str, forwarded: list[str]) -> None:
        self.client = type("Peer", (), {"host": peer})()
        self.headers = type("H", (), {"getlist": lambda _self, _name: forwarded})()


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("127.0.0.1", ["203.0.113.9"], "", "127.0.0.1"),  # nothing trusted by default
        ("10.0.0.5", ["203.0.113.9"], "10.0.0.5", "203.0.113.9"),
        ("10.0.0.6", ["203.0.113.9"], "10.0.0.5", "10.0.0.6"),  # not our proxy
        ("10.0.0.5", ["1.1.1.1, 203.0.113.9"], "10.0.0.5", "203.0.113.9"),  # right-most
        ("10.0.0.5", ["203.0.113.9, 10.0.0.7"], "10.0.0.0/24", "203.0.113.9"),
        ("10.0.0.5", ["garbage"], "10.0.0.5", "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.5", "10.0.0.5"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], proxies: str, expected: str) -> None:
    request: Any = FakeRequest(peer, forwarded)
    assert client_address(request, parse_proxies(proxies)) == expected


def test_bad_trusted_proxies_are_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="not an address"):
        parse_proxies("10.0.0.1, proxy.example")
    with pytest.raises(ConfigError, match="not an address"):
        create_app(settings.model_copy(update={"trusted_proxies": "proxy.example"}))
