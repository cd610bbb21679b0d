"""The alert queue's usual filters and orders read an index: no scan of every alert, no sort."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from soc_api.alerts.models import Alert, AlertFilter, severity_rank_sql
from soc_api.alerts.queries import _ordered, alert_query
from soc_api.db import init_state, make_engine, transaction

SEVERITIES = ("low", "medium", "high", "critical")


def row(n: int) -> dict[str, Any]:
    return {
        "rule_id": f"r{n % 9}", "rule_name": f"rule_{n % 9}", "title": "t",
        "severity": SEVERITIES[n % 4], "risk_score": n % 100, "status": "new",
        "agency": ("d1", "tanbinh", "dc")[n % 3], "segment": "s", "security_level": 3,
        "entity": {}, "dedup_key": str(n), "event_ids": [], "event_count": 1,
        "first_seen": f"2026-11-20T02:{n % 60:02d}:00.000Z",
        "last_seen": f"2026-11-20T03:{n % 60:02d}:00.000Z", "assignee": f"a{n % 5}",
    }  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'soc.db'}")
    sessions = init_state(engine)
    with transaction(sessions) as session:
        session.execute(insert(Alert), [row(n) for n in range(2000)])
    yield engine
    engine.dispose()


def plan(engine: Engine, agencies: list[str] | None, **given: Any) -> list[str]:
    filters = AlertFilter(**given)
    query = alert_query(agencies=agencies, filters=filters)
    count = select(func.count()).select_from(query.order_by(None).subquery())
    page = _ordered(query, filters.sort).limit(50).offset(100)
    found = []
    with engine.connect() as conn:
        for statement in (count, page):
            sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
            found += [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    return found


@pytest.mark.parametrize(
    ("agencies", "given"),
    [
        (None, {}),
        (["d1"], {}),
        (None, {"status": "new", "severity": "high", "sort": "newest"}),
        (None, {"rule": "rule_3", "sort": "newest"}),
        (None, {"assignee": "a2", "status": "new"}),
        (None, {"agency": "dc", "sort": "severity"}),
        (["tanbinh"], {"sort": "severity"}),
        (None, {"sort": "severity"}),
    ],
)
def test_the_queue_reads_an_index_in_its_order(
    engine: Engine, agencies: list[str] | None, given: dict[str, str]
) -> None:
    steps = plan(engine, agencies, **given)
    assert all("USING" in step for step in steps if step.startswith(("SCAN", "SEARCH"))), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps


def test_the_severity_indexes_and_the_query_write_the_same_rank() -> None:
    migration = importlib.import_module("soc_api.migrations.versions.0010_alert_severity_order")
    assert severity_rank_sql() == migration.RANK
    assert Path(migration.__file__).name.startswith("0010")
