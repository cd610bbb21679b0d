"""schemathesis over the OpenAPI as three callers: a city analyst, an agency analyst and no
credentials. For each: no 5xx, answers that keep the documented schema, and only documented
status codes; a method a path does not have is 405 with ``Allow`` naming the ones it has.

Examples are bounded (``max_examples``) and derandomized by the ``citysoc-ci`` profile
(``tests/conftest.py``): the same code gets the same verdict."""

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
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.models import Role
from soc_api.auth.service import upsert_user
from soc_api.context import SocContext
from soc_api.db import transaction

PASSWORD = "schema test password"
CALLERS = {"city": (Role.CITY_ANALYST, None), "d1": (Role.AGENCY_ANALYST, "d1"), "none": None}
schema = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path("/nonexistent"))).openapi()
)


@schemathesis.serializer("application/x-ndjson", "text/csv")
def raw_text(_ctx: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def add_users(ctx: SocContext) -> None:
    with transaction(ctx.sessions) as session:
        for name, caller in CALLERS.items():
            if caller is not None:
                upsert_user(session, username=name, password=PASSWORD, role=caller[0],
                            agency=caller[1])  # fmt: skip


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    data = tmp_path_factory.mktemp("callers") / "var"
    app = create_app(Settings(data_dir=data, detection_interval_seconds=3600,
                              login_attempts_per_minute=10_000, ingest_rate_per_second=10_000,
                              ingest_max_bytes=64 * 1024), startup=(add_users,))  # fmt: skip
    with TestClient(app) as first:  # one start-up; the other clients share its app
        second, anonymous = TestClient(app), TestClient(app)
        for name, client in (("city", first), ("d1", second)):
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            form = {"username": name, "password": PASSWORD, "csrf": token.group(1)}
            assert client.post("/login", data=form, follow_redirects=False).status_code == 303
        yield {"city": first, "d1": second, "none": anonymous}


KWARGS = ("method", "url", "params", "headers", "json", "content", "data", "files")


def send(client: TestClient, case: Any) -> Any:
    """The generated request, raw bodies (NDJSON, CSV) given as content."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    kwargs = {k: v for k, v in sent.items() if k in KWARGS}
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    return client.request(**kwargs)


@pytest.mark.parametrize("caller", sorted(CALLERS))
@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_as_each_caller(case: Any, caller: str, clients: dict[str, TestClient]) -> None:
    response = send(clients[caller], case)
    assert response.status_code < 500, (caller, case.method, case.path, response.text[:300])
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance,
              status_code_conformance, unsupported_method]  # fmt: skip
    case.validate_response(response, checks=checks)


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_methods_a_path_lacks_are_405_with_allow(
    caller: str, clients: dict[str, TestClient]
) -> None:
    """Every path of the OpenAPI, every method it does not declare: 405, ``Allow`` exact."""
    client = clients[caller]
    for path, operations in schema.raw_schema["paths"].items():
        declared = {m.upper() for m in operations if m.upper() in METHODS}
        url = re.sub(r"\{kind\}", "ip", re.sub(r"\{\w+_id\}", "1", path))
        url = re.sub(r"\{\w+\}", "x", url)
        for method in sorted(set(METHODS) - declared):
            response = client.request(method, url)
            where = (caller, method, path)
            assert response.status_code == 405, (where, response.status_code, response.text[:200])
            allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
            assert allowed - {"HEAD", "OPTIONS"} == declared, (where, response.headers)
            assert response.json()["error"]["status"] == 405, where
