"""schemathesis against the published OpenAPI, in-process: no 5xx, no answer off its schema,
and every error answer carries the same clear JSON body."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.models import Role
from soc_api.auth.service import upsert_user
from soc_api.context import SocContext
from soc_api.db import transaction

PASSWORD = "schema test password"
KWARGS = ("method", "url", "params", "headers", "json", "content", "data", "files")


@schemathesis.serializer("application/x-ndjson", "text/csv")
def raw_text(_ctx: Any, value: Any) -> bytes:
    """Bodies of the NDJSON and CSV endpoints are sent as they were generated."""
    return value if isinstance(value, bytes) else str(value).encode()


def add_admin(ctx: SocContext) -> None:
    with transaction(ctx.sessions) as session:
        upsert_user(session, username="admin", password=PASSWORD, role=Role.ADMIN)


def build_schema() -> Any:
    app = create_app(Settings(data_dir=Path("/nonexistent")))
    return schemathesis.openapi.from_dict(app.openapi())


schema = build_schema()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("schema") / "var"
    app = create_app(Settings(data_dir=data, detection_interval_seconds=3600,
                              login_attempts_per_minute=10_000, ingest_rate_per_second=10_000,
                              ingest_max_bytes=64 * 1024))  # fmt: skip
    with TestClient(app, raise_server_exceptions=True) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        form = {"username": "admin", "password": PASSWORD, "csrf": token.group(1)}
        add_admin(app.state.ctx)
        assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        yield client


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_schema(case: Any, admin: TestClient) -> None:
    sent = case.as_transport_kwargs(base_url="http://testserver")
    kwargs = {k: v for k, v in sent.items() if k in KWARGS}
    if isinstance(kwargs.get("data"), bytes | str):  # raw NDJSON and CSV bodies
        kwargs["content"] = kwargs.pop("data")
    response = admin.request(**kwargs)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    # Only what the answer itself must hold: the session cookie also authenticates, which the
    # schema's security section does not describe, so the auth-probing checks do not apply.
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance,
              response_headers_conformance, status_code_conformance]  # fmt: skip
    case.validate_response(response, checks=checks)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["status"] == response.status_code and error["code"] and error["message"]


def test_oversized_bodies_get_413(admin: TestClient) -> None:
    big = b'{"kind": "ip"}' + b" " * (70 * 1024)
    for path in ("/api/v1/ingest", "/api/v1/iocs/import"):
        response = admin.post(path, content=big, headers={"content-type": "application/json"})
        assert response.status_code in (403, 413), path  # ingest refuses a user before reading
    imported = admin.post("/api/v1/iocs/import", content=big)
    assert imported.status_code == 413 and "limit" in imported.json()["error"]["message"]
