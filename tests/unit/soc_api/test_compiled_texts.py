"""Statements compiled once and run as text (``soc_api.db.CompiledTexts``): the same rows as
SQLAlchemy's own execution, JSON decoded as the ORM decodes it, a statement whose parameters
need converting left to SQLAlchemy, and a bounded number kept."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from soc_api.alerts.models import Alert
from soc_api.db import CompiledTexts, make_engine, transaction
from soc_api.migrate import upgrade
from tests.unit.soc_api.test_alert_search import corpus

COLUMNS = (Alert.id, Alert.agency, Alert.entity, Alert.targets, Alert.security_level, Alert.note)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    upgrade(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with transaction(factory) as session:
        session.add_all(corpus())
        session.add(Alert(**{**_plain(corpus()[0]), "dedup_key": "odd", "entity": {"n": 2**70}}))
    yield factory
    engine.dispose()


def _plain(alert: Alert) -> dict[str, Any]:
    return {c.key: getattr(alert, c.key) for c in Alert.__table__.columns if c.key != "id"}


def page(agencies: list[str], limit: int) -> Any:
    return (
        select(*COLUMNS)
        .where(Alert.agency.in_(agencies))
        .order_by(Alert.risk_score.desc(), Alert.id.desc())
        .limit(limit)
    )


def test_the_same_rows_as_sqlalchemy_each_time(sessions: sessionmaker[Session]) -> None:
    texts = CompiledTexts()
    builds = 0

    def build(agencies: list[str], limit: int) -> Any:
        nonlocal builds
        builds += 1
        return page(agencies, limit)

    with sessions() as session:
        for _round in range(3):
            for agencies, limit in ((["d1"], 50), (["d1", "tanbinh"], 2), (["dc"], 1)):
                expected = [tuple(r) for r in session.execute(page(agencies, limit))]
                got = texts.rows(
                    session, (tuple(agencies), limit), functools.partial(build, agencies, limit)
                )
                assert [tuple(r) for r in got] == expected
                assert expected
    assert builds == 3  # once for each key, not once a request


def test_json_columns_read_as_the_orm_reads_them(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        rows = CompiledTexts().rows(session, "every d1 alert", lambda: page(["d1"], 50))
        loaded = {a.id: a for a in session.scalars(select(Alert).where(Alert.agency == "d1"))}
    assert len(rows) == len(loaded) >= 2
    for row in rows:
        alert = loaded[row[0]]
        assert (row[2], row[3], row[4]) == (alert.entity, alert.targets, alert.security_level)
    assert {"n": 2**70} in [row[2] for row in rows]  # past 64 bits: read exactly, as the ORM


def test_a_parameter_that_needs_converting_is_left_to_sqlalchemy(
    sessions: sessionmaker[Session],
) -> None:
    texts = CompiledTexts()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    builds = 0

    def build() -> Any:
        nonlocal builds
        builds += 1
        return select(Alert.id).where(Alert.created_at >= since).order_by(Alert.id)

    with sessions() as session:
        expected = list(session.scalars(build()))
        for _round in range(2):
            assert [r[0] for r in texts.rows(session, "since", build)] == expected
    assert expected
    assert builds == 1 + 1 + 2  # the test's own, the look at its parameters, then each run


def test_at_most_the_given_number_is_kept(sessions: sessionmaker[Session]) -> None:
    texts = CompiledTexts(entries=2)
    builds: list[int] = []

    def build(limit: int) -> Any:
        builds.append(limit)
        return page(["d1"], limit)

    with sessions() as session:
        for limit in (1, 2, 1, 3, 1, 2):
            texts.rows(session, limit, functools.partial(build, limit))
    assert builds == [1, 2, 3, 2]  # 1 stayed, being used; 2 was dropped for 3
