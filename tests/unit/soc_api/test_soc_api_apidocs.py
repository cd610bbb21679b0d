"""``/docs`` is served from citysoc's own files: no CDN address on the page, the bundle's
files under ``/docs/assets/``, nothing else of the package reachable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citysoc.core.settings import Settings
from soc_api.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("apidocs") / "var"
    app = create_app(Settings(data_dir=data, detection_interval_seconds=3600))
    with TestClient(app) as test_client:
        yield test_client


def test_the_docs_page_names_no_other_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert re.findall(r"(?:src|href)=\"(https?:)?//", page.text) == []
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in page.text
    assert 'data-openapi="/openapi.json"' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP holds
    assert "img-src 'self' data:" in page.headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404  # ReDoc needed a CDN: not offered


@pytest.mark.parametrize(
    ("name", "kind"),
    [("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")],
)
def test_the_bundle_files_are_served(client: TestClient, name: str, kind: str) -> None:
    answer = client.get(f"/docs/assets/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(kind)
    assert len(answer.content) > 50_000
    assert "max-age" in answer.headers["cache-control"]


@pytest.mark.parametrize("name", ["index.html", "..%2F..%2F__init__.py", "swagger-ui.js.map"])
def test_nothing_else_of_the_package_is_served(client: TestClient, name: str) -> None:
    answer = client.get(f"/docs/assets/{name}")
    assert answer.status_code == 404
    assert "error" in answer.json()


def test_the_initializer_turns_the_remote_validator_off() -> None:
    script = Path(__file__).parents[3] / "soc_api" / "console" / "static" / "apidocs.js"
    assert "validatorUrl: null" in script.read_text()
