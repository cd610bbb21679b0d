"""The queue's totals kept per state of the alerts stay exact on a real PostgreSQL, where the
database's clock is the transaction's start and ``updated_at`` a ``timestamptz``: changes made
here and by another engine (as another process would), for the city and an agency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from soc_api.alerts import queries
from soc_api.alerts.models import Alert
from soc_api.db import init_state, make_engine, transaction
from soc_api.incidents.models import IncidentNote
from tests.integration.soc_api.test_soc_api_postgres import pg_url
from tests.integration.soc_api.test_soc_api_postgres import pytestmark as needs_postgres
from tests.unit.soc_api.test_alert_totals import CITY, D1, LONG_AGO, alert, every, total

pytestmark = needs_postgres
__all__ = ["pg_url"]  # the module's database, created and dropped by the fixture


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    factory = init_state(engine)
    with transaction(factory) as session:
        session.execute(text("TRUNCATE alerts, incident_notes RESTART IDENTITY CASCADE"))
        session.execute(insert(Alert), [alert(n) for n in range(1, 25)])
    queries.TOTALS.clear()
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def test_totals_follow_changes_made_here(sessions: sessionmaker[Session]) -> None:
    for who in (CITY, D1):
        seen = every(sessions, who)
        with transaction(sessions) as session:  # no fingerprint moves: the generation does
            session.execute(
                update(Alert).where(Alert.id == 13).values(status="closed", updated_at=LONG_AGO)
            )
        assert every(sessions, who) != seen
        with transaction(sessions) as session:
            session.execute(update(Alert).where(Alert.id == 13).values(status="new"))
    with transaction(sessions) as session:
        session.delete(session.get_one(Alert, 6))
    with transaction(sessions) as session:
        session.execute(text('DELETE FROM "alerts" WHERE id = 7'))
    with transaction(sessions) as session:
        session.add(IncidentNote(alert_id=1, note="seen", author="city", created_at="now"))
    assert every(sessions, D1)[1] == 6


def test_totals_follow_changes_made_by_another_engine(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    table = Alert.__table__

    def both() -> list[int]:
        return [total(sessions), total(sessions, D1, status="new")]

    try:
        assert both() == [24, 8]
        with other.begin() as conn:
            conn.execute(insert(table), [alert(40, status="new", agency="d1")])
        assert both() == [25, 9]
        with other.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.id == 3)
                .values(status="new", updated_at=datetime(2026, 2, 1, tzinfo=UTC))
            )
        assert both() == [25, 10]
        with other.begin() as conn:
            conn.execute(delete(table).where(table.c.id == 25))
        assert both() == [24, 9]
        with other.begin() as conn:  # stamped by the database's clock
            conn.execute(update(table).where(table.c.id == 1).values(status="closed"))
        assert both() == [24, 8]
    finally:
        other.dispose()
