"""The overview on PostgreSQL gives exactly what it gives on SQLite: every period, a city-wide
reader and an agency's analyst, over the same alerts in the migrated schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from soc_api.alerts.models import Alert
from soc_api.db import init_state, make_engine, transaction
from soc_api.overview.models import Period
from soc_api.overview.service import overview
from tests.integration.soc_api.test_soc_api_postgres import pg_url
from tests.integration.soc_api.test_soc_api_postgres import pytestmark as needs_postgres
from tests.unit.soc_api.test_soc_api_overview import CITY, D1, NOW, fresh_alerts

pytestmark = needs_postgres
__all__ = ["pg_url"]  # the fixture: a throwaway database on the local cluster


def numbers(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        factory = init_state(engine)
        with transaction(factory) as session:
            session.query(Alert).delete()
            session.add_all(fresh_alerts())
        topology = load_topology(Settings().topology_path)
        with factory() as session:
            return [
                overview(session, who=who, topology=topology, period=period, now=NOW).model_dump()
                for who in (CITY, D1)
                for period in Period
            ]
    finally:
        engine.dispose()


def test_the_overview_is_the_same_on_postgresql_and_sqlite(pg_url: str, tmp_path: Path) -> None:
    on_postgres = numbers(pg_url)
    assert on_postgres == numbers(f"sqlite:///{tmp_path / 'soc.db'}")
    assert on_postgres[0]["total"] == 4 and on_postgres[len(Period)]["other_agencies"] == 1
