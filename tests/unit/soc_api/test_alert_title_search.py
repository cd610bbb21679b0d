"""Searches of alert titles through the trigram table (migration 0014) on SQLite: the same
alerts as reading every title, for mixed case, Vietnamese, ``%`` and ``_``, short texts and
wildcards; the table kept in step with the alerts and filled for alerts made before it; the
plan of a bare value reading indexes only, for the page and the total."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from citysoc.core.errors import QueryError
from citysoc.core.query import compile_query
from soc_api.alerts import queries
from soc_api.alerts.models import Alert, AlertFilter
from soc_api.alerts.queries import _ordered, alert_query
from soc_api.auth.models import Principal, Role
from soc_api.db import make_engine
from soc_api.migrate import alembic_config, upgrade
from soc_api.search import alert_sql
from soc_api.search.alert_sql import TITLE_FTS, alert_schema, to_sql
from tests.unit.soc_api.test_alert_search import alert

TITLES = [
    "Camera login failure",
    "CAMERA LOGIN FAILURE",
    "camera to internet",
    "Đăng nhập camera thất bại",
    "ĐĂNG NHẬP CAMERA THẤT BẠI",
    "Tấn công dò mật khẩu SSH ở Quận 1",
    "100% CPU on cam_01",
    "1000 CPU on camx01",
    "path ../etc/passwd_ in URL",
    'quoted "word" in a title',
    "Ka Kelvin \u212a and long s \u017f and \u0130stanbul",
    "ab",
    "",
]

QUERIES = [
    "camera", "CAMERA", "Camera Login", "amer", "login failure", '"login failure"',
    "đăng", "ĐĂNG", "Đăng nhập", "thất bại", "THẤT", "mật khẩu", "quận 1",
    "100%", "100", "%", "_", "cam_01", "m_0", "m%0", "%c", "_i",
    "ca", "c", "đ", "Đ", "ab", "a", "ssh",
    "kelvin", "kka", "k", "stanbul", "istanbul", "long s", "ss",
    '"\\"word\\""', "word", "etc/passwd",
    "title:camera", "title:*cam*", "title:*CAM*01", "title:cam?ra*", "title:*ĐĂNG*",
    "title:*100%*", "title:*_in*", "title:c*", "title:*a*", "title:*ca*ra*", "title:*cam*era*",
    "camera AND NOT title:login", "NOT camera", "camera OR ssh", "title:camera OR title:ssh",
]  # fmt: skip


def found(engine: Engine, query: str) -> set[int]:
    where = to_sql(compile_query(query, alert_schema()), dialect=engine.dialect.name)
    with Session(engine) as session:
        return set(session.scalars(select(Alert.id).where(where)))


def scanned(engine: Engine, query: str) -> set[int]:
    """The same query reading every title: the compiler with the trigram table turned off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alert_sql, "_title_candidates", lambda condition, dialect: None)
        return found(engine, query)


def sql_of(query: str) -> str:
    return str(to_sql(compile_query(query, alert_schema()), dialect="sqlite"))


def titled(titles: list[str]) -> list[Alert]:
    return [alert(f"rule_{n}", title=title) for n, title in enumerate(titles)]


@pytest.fixture(scope="module")
def titles_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('titles') / 'soc.db'}")
    upgrade(engine)
    with Session(engine) as session:
        session.add_all(titled(TITLES))
        session.commit()
    yield engine
    engine.dispose()


@pytest.mark.parametrize("query", QUERIES)
def test_the_trigram_table_finds_what_reading_every_title_finds(
    titles_state: Engine, query: str
) -> None:
    assert found(titles_state, query) == scanned(titles_state, query)


def test_texts_of_three_characters_or_more_read_the_table_shorter_ones_every_title(
    titles_state: Engine,
) -> None:
    assert TITLE_FTS in sql_of("camera") and TITLE_FTS in sql_of("title:*cam*era*")
    assert TITLE_FTS in sql_of("đăng") and TITLE_FTS in sql_of("100%")
    for short in ("ca", "đ", "%", "title:*ca*", "title:c?m"):
        assert TITLE_FTS not in sql_of(short), short
    # cases where the table holds more than the test: the test keeps the scan's answer
    assert found(titles_state, "camera") == scanned(titles_state, "camera") != set()
    assert found(titles_state, "thất bại") == scanned(titles_state, "thất bại") != set()
    assert found(titles_state, "kelvin") == scanned(titles_state, "kelvin")
    with titles_state.connect() as conn:
        candidates = set(
            conn.scalars(
                text(f"SELECT rowid FROM {TITLE_FTS} WHERE {TITLE_FTS} MATCH :q"),
                {"q": '"thất bại"'},
            )
        )
    assert candidates > found(titles_state, "thất bại")  # ĐĂNG ... THẤT BẠI: not for lower()


TITLE_CHARS = st.sampled_from(list("aAcCmMeErRđĐăĂấẤ %_*?\"'\\.-1\u212a\u017f\u0130"))


@pytest.fixture(scope="module")
def any_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('any') / 'soc.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    titles=st.lists(st.text(TITLE_CHARS, max_size=12), min_size=1, max_size=6),
    text=st.text(TITLE_CHARS, min_size=1, max_size=6),
    field=st.sampled_from(["", "title:"]),
)
def test_any_title_and_any_text_give_the_answers_of_the_scan(
    any_state: Engine, titles: list[str], text: str, field: str
) -> None:
    with Session(any_state) as session:
        session.execute(delete(Alert))
        session.add_all(titled(titles))
        session.commit()
    quoted = field + '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    for query in (quoted, field + text):
        try:
            narrowed = found(any_state, query)
        except QueryError:
            continue  # not a query of the language (checked elsewhere)
        assert narrowed == scanned(any_state, query), query


def fts_in_step(engine: Engine) -> None:
    """FTS5's own check of an external-content table against the alerts it indexes."""
    with engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {TITLE_FTS} ({TITLE_FTS}, rank) VALUES ('integrity-check', 1)")
        )


def test_new_changed_and_deleted_alerts_keep_the_table_in_step(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    upgrade(engine)
    with Session(engine) as session:
        session.add_all(titled(["Camera login failure", "SSH brute force"]))
        session.commit()
    camera, ssh = sorted(found(engine, "login")) + sorted(found(engine, "brute"))
    fts_in_step(engine)

    with Session(engine) as session:  # the ORM, then a statement, change titles
        session.get_one(Alert, camera).title = "Camera reached the internet"
        session.commit()
        session.execute(update(Alert).where(Alert.id == ssh).values(title="Telnet from camera"))
        session.commit()
    assert found(engine, "login") == set() and found(engine, "brute") == set()
    assert found(engine, "internet") == {camera} and found(engine, "telnet") == {ssh}
    assert found(engine, "camera") == {camera, ssh}
    fts_in_step(engine)

    with Session(engine) as session:
        session.delete(session.get_one(Alert, camera))
        session.commit()
        assert found(engine, "camera") == {ssh}
        session.execute(delete(Alert))
        session.commit()
    assert found(engine, "camera") == set()
    fts_in_step(engine)
    with engine.connect() as conn:
        assert conn.scalar(text(f"SELECT count(*) FROM {TITLE_FTS}")) == 0
    engine.dispose()


def old_alert(title: str, dedup: str) -> dict[str, Any]:
    return {
        "rule_id": "r", "rule_name": "r", "title": title, "severity": "low", "risk_score": 21,
        "status": "new", "agency": "d1", "segment": "s", "security_level": 2, "entity": {},
        "dedup_key": dedup, "event_ids": [], "event_count": 1, "first_seen": "2026-11-20",
        "last_seen": "2026-11-20", "runbook": "", "tags": [], "note": "", "fingerprints": [],
        "observables": [], "targets": [], "infrastructure": [],
    }  # fmt: skip


def test_the_migration_fills_the_table_for_alerts_made_before_it_and_goes_back(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    upgrade(engine, "0013")
    with engine.begin() as conn:
        conn.execute(
            insert(Alert.__table__),
            [old_alert("Camera login failure", "a"), old_alert("Đăng nhập thất bại", "b")],
        )
    assert upgrade(engine) == "0014"
    fts_in_step(engine)
    assert found(engine, "login") == {1} and found(engine, "nhập") == {2}
    assert TITLE_FTS in sql_of("login")

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    command.downgrade(config, "0013")
    with engine.connect() as conn:
        left = conn.scalars(
            text("SELECT name FROM sqlite_master WHERE name LIKE '%title_fts%' "
                 "OR name = 'alerts_rule_name_lower'")
        ).all()  # fmt: skip
    assert left == []
    assert upgrade(engine) == "0014"
    fts_in_step(engine)
    assert found(engine, "login") == {1}
    engine.dispose()


def plan(engine: Engine, query: str, sort: str = "risk") -> list[str]:
    filters = AlertFilter(q=query, sort=sort)
    where = alert_query(agencies=None, filters=filters)
    count = select(func.count()).select_from(where.order_by(None).subquery())
    page = _ordered(where, filters.sort).limit(50)
    steps = []
    with engine.connect() as conn:
        for statement in (count, page):
            sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
            steps += [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    return steps


@pytest.mark.parametrize("query", ["camera", "203.0.113.7", "title:camera", "title:*cam*"])
def test_a_bare_value_reads_the_trigram_table_and_indexes_not_every_alert(
    titles_state: Engine, query: str
) -> None:
    steps = plan(titles_state, query)
    assert not any(step.split()[:2] == ["SCAN", "alerts"] for step in steps), steps
    assert any(step.startswith(f"SCAN {TITLE_FTS} VIRTUAL TABLE") for step in steps), steps
    if ":" not in query:  # the bare value's other parts: the rule name, the entities
        assert any("alerts_rule_name_lower" in step for step in steps) or "." in query, steps
        assert any("alert_entities_value" in step for step in steps), steps


CITY = Principal(-1, "city", Role.CITY_ANALYST, None, None)


@pytest.fixture(scope="module")
def queue_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """300 alerts: 200 name a camera (a search that finds many), 15 a rare word."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('queue') / 'soc.db'}")
    upgrade(engine)
    rows = [
        alert(
            f"rule_{n}",
            title=("Camera login failure" if n % 3 else "Rare RTSP probe" if n % 5 == 0 else "x"),
            risk_score=n * 7 % 100,
            last_seen=f"2026-11-20T02:{n % 60:02d}:00.000Z",
        )
        for n in range(300)
    ]
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("query", "dense"), [("camera", True), ("rare rtsp", False)])
@pytest.mark.parametrize("sort", ["risk", "newest"])
@pytest.mark.parametrize(("offset", "limit"), [(0, 10), (20, 10), (190, 20)])
def test_a_page_is_read_in_order_when_the_search_finds_many_and_answers_the_same(
    queue_state: Engine, query: str, dense: bool, sort: str, offset: int, limit: int
) -> None:
    filters = AlertFilter(q=query, sort=sort)
    built: list[bool] = []
    made = queries.alert_query

    def recording(**given: Any) -> Any:
        built.append(given.get("narrow", True))
        return made(**given)

    queries.TOTALS.clear()
    with Session(queue_state) as session, pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "alert_query", recording)
        total, page = queries.list_public_alerts(
            session, who=CITY, filters=filters, limit=limit, offset=offset
        )
        public_built = list(built)
        built.clear()
        _, rows = queries.list_alerts(
            session, who=CITY, filters=filters, limit=limit, offset=offset
        )
        rows_built = list(built)
        patch.setattr(alert_sql, "_title_candidates", lambda condition, dialect: None)
        queries.TOTALS.clear()
        scan_total, scan_page = queries.list_public_alerts(
            session, who=CITY, filters=filters, limit=limit, offset=offset
        )
    assert (total, page) == (scan_total, scan_page) and total == (200 if dense else 20)
    assert [row.id for row in rows] == [item.id for item in page]
    in_order = dense and offset < 190  # 200² > 30 × 300; 200² <= 210 × 300
    expected = [True, False] if in_order else [True]
    assert public_built == expected and rows_built == expected, (public_built, rows_built)
