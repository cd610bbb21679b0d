"""Searches of alert titles on PostgreSQL (migration 0014): through pg_trgm's index of
``lower(title)`` they find what reading every alert finds, for the cases of the SQLite test
(tests/unit/soc_api/test_alert_title_search.py); each part of a bare value's ``OR`` can read
an index; and where the database's role may not create pg_trgm the migration still reaches
its head, without the index."""

from __future__ import annotations

import logging
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from citysoc.core.query import compile_query
from soc_api.alerts.models import Alert, AlertFilter
from soc_api.alerts.queries import _ordered, alert_query
from soc_api.db import make_engine
from soc_api.migrate import upgrade
from soc_api.search.alert_sql import alert_schema, to_sql
from tests.integration.soc_api.test_soc_api_postgres import ensure_running, pg_url, psql
from tests.integration.soc_api.test_soc_api_postgres import pytestmark as needs_postgres
from tests.unit.soc_api.test_alert_title_search import QUERIES, TITLES, titled

pytestmark = needs_postgres
__all__ = ["pg_url"]  # the fixture: a throwaway database on the local cluster

INDEXED = ("SET LOCAL enable_seqscan = off",)
SCANNED = (
    "SET LOCAL enable_indexscan = off",
    "SET LOCAL enable_bitmapscan = off",
    "SET LOCAL enable_indexonlyscan = off",
)


@pytest.fixture(scope="module")
def pg_titles(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade(engine)
    with Session(engine) as session:
        session.add_all(titled(TITLES))
        session.commit()
    yield engine
    engine.dispose()


def found(engine: Engine, query: str, planner: tuple[str, ...]) -> set[int]:
    where = to_sql(compile_query(query, alert_schema()), dialect="postgresql")
    with Session(engine) as session:
        for setting in planner:
            session.execute(text(setting))
        return set(session.scalars(select(Alert.id).where(where)))


@pytest.mark.parametrize("query", QUERIES)
def test_the_trigram_index_finds_what_reading_every_alert_finds(
    pg_titles: Engine, query: str
) -> None:
    assert found(pg_titles, query, INDEXED) == found(pg_titles, query, SCANNED)


def explain(engine: Engine, query: str) -> str:
    filters = AlertFilter(q=query)
    where = alert_query(agencies=None, filters=filters, dialect="postgresql")
    count = select(func.count()).select_from(where.order_by(None).subquery())
    page = _ordered(where, filters.sort).limit(50)
    plans = []
    with Session(engine) as session:
        session.execute(text(INDEXED[0]))
        for statement in (count, page):
            sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
            plans += [row[0] for row in session.execute(text("EXPLAIN " + sql))]
    return "\n".join(plans)


def test_each_part_of_a_bare_value_can_read_an_index(pg_titles: Engine) -> None:
    plan = explain(pg_titles, "camera")
    assert "Seq Scan on alerts" not in plan and "SubPlan" not in plan, plan
    for index in ("alerts_title_trgm", "alerts_rule_name_lower", "alerts_pkey"):
        assert plan.count(f"Bitmap Index Scan on {index}") == 2, plan  # the total, the page
    assert "alerts_title_trgm" in explain(pg_titles, "title:*cam*")


@pytest.fixture
def pg_url_without_create() -> Iterator[str]:
    """A database its role may use (its own schema ``public``) but not create extensions in:
    the database belongs to ``postgres``."""
    ensure_running()
    name = f"citysoc_test_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    psql(f"CREATE DATABASE {name}")
    try:
        psql(f"GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {name}")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-d", name,
             "-qc", f"ALTER SCHEMA public OWNER TO {name}"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        yield f"postgresql+psycopg://{name}:{password}@127.0.0.1:5432/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"DROP ROLE IF EXISTS {name}")


def test_without_pg_trgm_the_migration_goes_on_and_searches_still_answer(
    pg_url_without_create: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(pg_url_without_create)
    try:
        with caplog.at_level(logging.WARNING):
            assert upgrade(engine) == "0014"
        assert any("pg_trgm could not be created" in r.getMessage() for r in caplog.records)
        indexes = {index["name"] for index in inspect(engine).get_indexes("alerts")}
        assert "alerts_rule_name_lower" in indexes and "alerts_title_trgm" not in indexes
        with Session(engine) as session:
            session.add_all(titled(TITLES))
            session.commit()
        assert found(engine, "login failure", ()) == found(engine, "login failure", SCANNED)
        assert len(found(engine, "login failure", ())) == 2
    finally:
        engine.dispose()


def test_a_wildcard_on_titles_ignores_case_as_on_sqlite(pg_titles: Engine) -> None:
    lower = found(pg_titles, "title:*cam*", SCANNED)
    assert lower, "the titles hold 'cam'"
    assert found(pg_titles, "title:*CaM*", INDEXED) == lower
    assert found(pg_titles, "title:*CAM*", SCANNED) == lower
