"""The entity table beside the alerts: its keys, kept with every flush of alerts (new alerts,
folds, deletes), and filled for alerts that existed before migration 0012."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from citysoc.core.errors import QueryError
from citysoc.core.query import compile_query
from soc_api.alerts.entity_keys import MAX_KEY, entity_rows, keys_of
from soc_api.alerts.models import Alert, AlertEntity
from soc_api.db import make_engine
from soc_api.migrate import upgrade
from soc_api.search import alert_sql
from soc_api.search.alert_sql import alert_schema, to_sql
from tests.unit.soc_api.test_alert_search import alert, matching, seeded


def rows_of(engine: Engine) -> set[tuple[int, str, str, bool]]:
    with Session(engine) as session:
        found = session.execute(
            select(AlertEntity.alert_id, AlertEntity.role, AlertEntity.value, AlertEntity.whole)
        )
        return {(a, r, v, w) for a, r, v, w in found}


def found(engine: Engine, query: str) -> set[int]:
    where = to_sql(compile_query(query, alert_schema()), dialect=engine.dialect.name)
    with Session(engine) as session:
        return set(session.scalars(select(Alert.id).where(where)))


def state(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    upgrade(engine)
    return engine


def test_an_entity_is_kept_whole_and_after_each_of_its_colons() -> None:
    assert keys_of("IP:203.0.113.77") == {("ip:203.0.113.77", True), ("203.0.113.77", False)}
    assert keys_of("ip:2001:db8::1") == {
        ("ip:2001:db8::1", True),
        ("2001:db8::1", False),
        ("db8::1", False),
        (":1", False),
        ("1", False),
    }
    assert keys_of("root") == {("root", True)}
    assert keys_of(None) == set() and keys_of(7) == set()
    long = "url:" + "a" * 1000
    assert {len(k) for k, _ in keys_of(long)} == {MAX_KEY}
    rows = entity_rows(3, "targets", ["ip:10.0.0.1", "host:10.0.0.1"])
    assert sorted((r["value"], r["whole"]) for r in rows) == [
        ("10.0.0.1", False),
        ("host:10.0.0.1", True),
        ("ip:10.0.0.1", True),
    ]


def test_new_alerts_folds_and_deletes_keep_the_table_as_the_lists_say(tmp_path: Path) -> None:
    engine = state(tmp_path)
    with Session(engine) as session:
        scan = alert("scan", attacker="ip:203.0.113.9", targets=["ip:10.31.0.1"])
        other = alert("other", observables=["user:Root"])
        session.add_all([scan, other])
        session.commit()
        scan_id, other_id = scan.id, other.id
    assert found(engine, "203.0.113.9") == {scan_id}
    assert found(engine, "root") == {other_id}
    assert (scan_id, "targets", "ip:10.31.0.1", True) in rows_of(engine)

    with Session(engine) as session:  # a fold: new targets, the same attacker
        scan = session.get_one(Alert, scan_id)
        scan.targets = ["ip:10.31.0.1", "ip:10.31.0.2"]
        scan.status = "acknowledged"
        session.commit()
    assert found(engine, "targets:10.31.0.2") == {scan_id}
    assert found(engine, "attacker:203.0.113.9") == {scan_id}  # untouched role kept

    with Session(engine) as session:  # the list replaced: the old value is gone
        session.get_one(Alert, scan_id).targets = ["ip:10.31.0.3"]
        session.get_one(Alert, other_id).observables = []
        session.commit()
    assert found(engine, "targets:10.31.0.1") == set()
    assert found(engine, "root") == set()

    with Session(engine) as session:  # deleted, by the ORM or by a statement
        session.delete(session.get_one(Alert, scan_id))
        session.commit()
        session.execute(delete(Alert))
        session.commit()
    assert rows_of(engine) == set()
    engine.dispose()


def test_the_migration_fills_the_table_for_alerts_made_before_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    upgrade(engine, "0011")
    old = {
        "rule_id": "r", "rule_name": "r", "title": "t", "severity": "low", "risk_score": 21,
        "status": "new", "agency": "d1", "segment": "s", "security_level": 2, "entity": {},
        "dedup_key": "k", "event_ids": [], "event_count": 1, "first_seen": "2026-11-20",
        "last_seen": "2026-11-20", "runbook": "", "tags": [], "note": "", "fingerprints": [],
        "attacker": "ip:203.0.113.5", "targets": ["ip:10.31.0.1", "ip:2001:db8::1"],
        "observables": ["user:Root"], "infrastructure": [],
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Alert.__table__), [old, {**old, "attacker": None, "targets": []}])
    upgrade(engine)
    expected = {
        (row["alert_id"], row["role"], row["value"], row["whole"])
        for alert_id, given in ((1, old), (2, {**old, "attacker": None, "targets": []}))
        for role in ("attacker", "targets", "observables", "infrastructure", "fingerprints")
        for row in entity_rows(alert_id, role, given[role])
    }
    assert rows_of(engine) == expected
    assert (1, "targets", "db8::1", False) in expected
    assert found(engine, "203.0.113.5") == {1}
    assert found(engine, "root") == {1, 2}
    engine.dispose()


ENTITY_VALUES = st.sampled_from(
    ["203.0.113.77", '"ip:203.0.113.77"', "10.31.0.21", "10.31.0.0/16", "10.32.0.20/30",
     "0.0.0.0/0", "root", '"USER:ROOT"', "dc-web-01", '"2001:db8::53"', '"db8::53"',
     "203.0.113.*", "10.31.0.2*", "abc", '"8080/x"', "*", "x"]
)  # fmt: skip
ENTITY_QUERIES = st.recursive(
    st.one_of(
        st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(
            ["attacker", "targets", "observables", "infrastructure", "fingerprints"]
        ), ENTITY_VALUES),
        ENTITY_VALUES,
        st.sampled_from(["severity:high", "agency:tanbinh", "brute"]),
    ),
    lambda inner: st.one_of(
        st.builds(lambda a, b, op: f"{a} {op} {b}", inner, inner, st.sampled_from(["AND", "OR"])),
        inner.map(lambda q: f"NOT ({q})"),
    ),
    max_leaves=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = seeded(f"sqlite:///{tmp_path_factory.mktemp('state') / 'soc.db'}")
    yield engine
    engine.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ENTITY_QUERIES)
def test_the_entity_table_answers_as_the_lists_do(corpus_state: Engine, text: str) -> None:
    """Any query on entities gives the same alerts through the entity table as reading
    every alert's lists (the compiler with its look-ups turned off)."""
    try:
        indexed = matching(corpus_state, text)
    except QueryError:
        return  # not a query of alerts (checked elsewhere)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alert_sql, "_entity_lookup", lambda condition: None)
        patch.setattr(alert_sql, "_entity_text", lambda condition: None)
        assert matching(corpus_state, text) == indexed
