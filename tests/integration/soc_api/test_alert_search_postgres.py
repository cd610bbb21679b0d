"""The query language on alerts in PostgreSQL: the same cases as on SQLite
(tests/unit/soc_api/test_alert_search.py), with the same answers, through the migrated schema;
and the alert queue's query and paging through the API on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from citysoc.core.settings import Settings
from soc_api.app import create_app
from tests.integration.soc_api.test_soc_api_postgres import login, pg_url, seed
from tests.integration.soc_api.test_soc_api_postgres import pytestmark as needs_postgres
from tests.unit.soc_api.test_alert_search import CASES, matching, seeded

pytestmark = needs_postgres
__all__ = ["pg_url"]  # the fixture: a throwaway database on the local cluster


@pytest.fixture(scope="module")
def pg_state(pg_url: str) -> Iterator[Engine]:
    engine = seeded(pg_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
def test_each_form_finds_the_alerts_it_names_on_postgresql(
    pg_state: Engine, query: str, expected: set[str]
) -> None:
    assert pg_state.dialect.name == "postgresql"
    assert matching(pg_state, query) == expected


def test_the_queue_query_and_a_bad_query_through_the_api(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", state_url=pg_url, detection_interval_seconds=3600
    )
    with TestClient(create_app(settings, startup=(seed,))) as client:
        login(client, "city")
        found = client.get("/api/v1/alerts", params={"q": "203.0.113.50 AND agency:d1"}).json()
        assert found["total"] == 1 and found["items"][0]["agency"] == "d1"
        bad = client.get("/api/v1/alerts", params={"q": "risk_score:[1 TO"})
        assert bad.status_code == 400 and "column 17" in bad.json()["error"]["message"]
        pivot = client.get("/api/v1/pivot/ip/203.0.113.50").json()
        assert pivot["alerts"]["total"] == 2 and pivot["events"]["total"] == 12
