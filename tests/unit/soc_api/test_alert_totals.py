"""The queue's totals are counted once per state of the alerts and stay exact through every
change: made here or by another process, for the city and an agency, with any filter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.query.tree import Equals
from soc_api import state_cache
from soc_api.alerts import queries
from soc_api.alerts.models import Alert, AlertFilter, AlertStatus, AlertUpdate, SortKey
from soc_api.alerts.queries import alert_query, list_alerts, list_public_alerts
from soc_api.alerts.workflow import update_alert
from soc_api.auth.models import Principal, Role
from soc_api.db import init_state, make_engine, transaction
from soc_api.incidents.models import IncidentNote
from soc_api.search.alert_sql import alert_schema

CITY = Principal(-1, "city", Role.CITY_ANALYST, None, None)
D1 = Principal(-2, "d1", Role.AGENCY_ANALYST, "d1", None)
LONG_AGO = datetime(2026, 1, 1)  # an alert's last change, long settled
AGENCIES = ("d1", "d1", "tanbinh", "d1", "q12", "tanbinh")
SEVERITIES = ("high", "critical", "low", "medium", "high", "critical")
STATUSES = ("new", "new", "acknowledged", "in_progress", "new", "closed")


def alert(n: int, **extra: Any) -> dict[str, Any]:
    agency = AGENCIES[n % len(AGENCIES)]
    return {
        "rule_id": f"r{n % 3}", "rule_name": f"rule_{n % 3}", "title": f"Camera alert {n}",
        "severity": SEVERITIES[n % len(SEVERITIES)], "risk_score": 10 + n,
        "status": STATUSES[n % len(STATUSES)], "agency": agency, "segment": f"cam-{agency}",
        "security_level": 3, "entity": {}, "dedup_key": f"k{n}", "event_ids": [f"e{n}"],
        "event_count": 1, "first_seen": f"2026-11-20T02:{n:02d}:00.000Z",
        "last_seen": f"2026-11-20T02:{n:02d}:30.000Z", "attacker": f"ip:203.0.113.{n % 4}",
        "assignee": "analyst1" if n % 4 == 0 else None, "targets": [f"ip:10.31.0.{n}"],
        "updated_at": LONG_AGO, **extra,
    }  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    factory = init_state(engine)
    with transaction(factory) as session:
        session.execute(insert(Alert), [alert(n) for n in range(1, 25)])
    queries.TOTALS.clear()
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def counts(engine: Engine) -> list[str]:
    """The COUNT statements the database actually ran."""
    ran: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT COUNT("):
            ran.append(statement)

    return ran


@pytest.fixture
def other(engine: Engine) -> Iterator[Engine]:
    """A second engine on the same file, written below the ORM: no session of this process
    sees its changes, as none sees another process's."""
    second = make_engine(engine.url.render_as_string(hide_password=False))
    yield second
    second.dispose()


def truth(session: Session, who: Principal, filters: AlertFilter) -> int:
    query = alert_query(agencies=who.agencies, filters=filters)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def total(sessions: sessionmaker[Session], who: Principal = CITY, **given: Any) -> int:
    """The total both listings give, checked against a count of the state as it is."""
    filters = AlertFilter(**given)
    with sessions() as session:
        public, _ = list_public_alerts(session, who=who, filters=filters, limit=2)
        whole, _ = list_alerts(session, who=who, filters=filters, limit=2)
        assert public == whole == truth(session, who, filters), given
        return public


def test_a_total_is_counted_once_per_state_whatever_the_order_and_page(
    sessions: sessionmaker[Session], counts: list[str]
) -> None:
    first = total(sessions, status="new")
    with sessions() as session:
        for sort in SortKey:
            found, _ = list_public_alerts(
                session, who=CITY, filters=AlertFilter(status="new", sort=sort), offset=3
            )
            assert found == first
    assert len(counts) == 1 + 1  # the cached count, and the test's own count of the truth


LOOKS: list[dict[str, Any]] = [
    {},
    {"status": "new"},
    {"severity": "critical"},
    {"assignee": "analyst1"},
]


def every(sessions: sessionmaker[Session], who: Principal) -> list[int]:
    return [total(sessions, who, **look) for look in LOOKS]


@pytest.mark.parametrize("who", [CITY, D1], ids=["city", "agency"])
def test_totals_follow_changes_made_here(sessions: sessionmaker[Session], who: Principal) -> None:
    before = every(sessions, who)
    with transaction(sessions) as session:  # a detection raises an alert
        fresh = {k: v for k, v in alert(31).items() if k != "updated_at"}
        session.add(Alert(**fresh | {"agency": "d1", "status": "new"}))
    assert every(sessions, who)[:2] == [before[0] + 1, before[1] + 1]
    with transaction(sessions) as session:  # triage, as the API does it
        update_alert(
            session, alert_id=1, change=AlertUpdate(status=AlertStatus.ACKNOWLEDGED), who=CITY
        )
    assert every(sessions, who)[1] == before[1]
    with transaction(sessions) as session:
        session.add(IncidentNote(alert_id=1, note="seen", author="city", created_at="now"))
    every(sessions, who)  # each total checked against the state as it is


@pytest.mark.parametrize("who", [CITY, D1], ids=["city", "agency"])
def test_changes_only_this_process_can_tell_are_seen_at_once(
    sessions: sessionmaker[Session], who: Principal
) -> None:
    """Changes that move no fingerprint (``updated_at`` kept as it was, older alerts deleted):
    only the generation of this process tells them, in every way a session writes."""
    stamp = {"updated_at": LONG_AGO}
    # alert 13 is d1's, new, critical, unassigned
    for change in ({"status": "closed"}, {"assignee": "analyst1"}, {"severity": "low"}):
        seen = every(sessions, who)
        with transaction(sessions) as session:
            session.execute(update(Alert).where(Alert.id == 13).values(**change, **stamp))
        assert every(sessions, who) != seen, change
    seen = every(sessions, who)
    with transaction(sessions) as session:  # the unit of work (d1, new, assigned)
        row = session.get_one(Alert, 6)
        row.status, row.updated_at = "in_progress", LONG_AGO
    assert every(sessions, who)[1] == seen[1] - 1
    with transaction(sessions) as session:
        session.delete(session.get_one(Alert, 6))  # an ORM delete
    assert every(sessions, who)[0] == seen[0] - 1
    with transaction(sessions) as session:
        session.execute(delete(Alert).where(Alert.id == 7))  # a bulk delete (d1, new)
    assert every(sessions, who)[1] == seen[1] - 2
    with transaction(sessions) as session:  # a Core statement on the table (d1, new)
        session.execute(delete(Alert.__table__).where(Alert.__table__.c.id == 12))
    assert every(sessions, who)[1] == seen[1] - 3
    with transaction(sessions) as session:  # SQL text (d1, new)
        session.execute(text('DELETE FROM "alerts" WHERE id = 18'))
    assert every(sessions, who)[1] == seen[1] - 4


def test_totals_follow_changes_made_by_another_process(
    sessions: sessionmaker[Session], other: Engine, counts: list[str]
) -> None:
    table = Alert.__table__

    def both() -> list[int]:
        return [total(sessions), total(sessions, D1, status="new")]

    assert both() == [24, 8]
    assert both() == [24, 8] and len(counts) == 2 + 4  # kept: counted once each
    with other.begin() as conn:  # a new alert: the newest id
        conn.execute(insert(table), [alert(40, status="new", agency="d1")])
    assert both() == [25, 9]
    with other.begin() as conn:  # a change stamped after what was kept, long settled
        conn.execute(
            update(table)
            .where(table.c.id == 3)
            .values(status="new", updated_at=datetime(2026, 2, 1))
        )
    assert both() == [25, 10]
    with other.begin() as conn:  # the newest alert deleted: the newest id moves back
        conn.execute(delete(table).where(table.c.id == 25))
    assert both() == [24, 9]
    with other.begin() as conn:  # a change stamped by the database's clock: not yet settled
        conn.execute(update(table).where(table.c.id == 1).values(status="closed"))
    assert both() == [24, 8]
    # two changes stamped within one second (SQLite's resolution): after the first, nothing
    # is kept while the stamp is younger than SETTLE (here: ahead of the database's clock)
    ahead = datetime(2100, 1, 1)
    with other.begin() as conn:
        conn.execute(
            update(table).where(table.c.id == 19).values(status="closed", updated_at=ahead)
        )
    assert both() == [24, 7]
    with other.begin() as conn:
        conn.execute(
            update(table).where(table.c.id == 24).values(status="closed", updated_at=ahead)
        )
    assert both() == [24, 6]


def test_an_older_alert_deleted_elsewhere_is_seen_within_the_entries_age(
    sessions: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(state_cache, "time", SimpleNamespace(monotonic=lambda: clock.now))
    assert total(sessions, D1) == 12
    path = engine.url.database
    assert path is not None
    # a real second process through the database's own library: no fingerprint moves, and
    # the kept total may still be given ...
    code = f"import sqlite3; c = sqlite3.connect({path!r}); c.executescript({_DELETE!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
    clock.now += queries.TOTALS.max_age + 0.1
    assert total(sessions, D1) == 11  # ... but not beyond its age


_DELETE = "DELETE FROM alerts WHERE id = 3"


# Two values of every filter that give different totals over the fixture's alerts: a key
# that forgets a field answers both with the first one's total.
VALUES: dict[str, tuple[Any, Any]] = {
    "status": ("new", "closed"),
    "severity": ("high", "low"),
    "rule": ("rule_0", "rule_9"),
    "agency": ("d1", "tanbinh"),
    "assignee": ("analyst1", None),
    "q": ("title:camera", "rule_name:rule_2"),
    "segment": ("cam-d1", "cam-q12"),
    "attacker": ("ip:203.0.113.1", "ip:203.0.113.9"),
    "since": (datetime(2026, 11, 20, 2, 10, tzinfo=UTC), None),
    "until": (datetime(2026, 11, 20, 2, 10, tzinfo=UTC), None),
}


def test_every_filter_is_part_of_the_key(sessions: sessionmaker[Session]) -> None:
    assert set(VALUES) == set(AlertFilter.model_fields) - {"sort"}, "a filter without a case"
    for field, (one, two) in VALUES.items():
        queries.TOTALS.clear()
        first, second = total(sessions, **{field: one}), total(sessions, **{field: two})
        assert first != second, field  # the case tells a forgetful key from a good one
    queries.TOTALS.clear()
    assert total(sessions, CITY) != total(sessions, D1)  # the caller's agencies


def test_a_pivots_condition_is_part_of_the_key(sessions: sessionmaker[Session]) -> None:
    rule = alert_schema().fields["rule_name"]
    with sessions() as session:
        found = [
            list_alerts(session, who=CITY, condition=Equals(rule, name))[0]
            for name in ("rule_0", "rule_9")
        ]
        assert found == [8, 0]


def test_uncommitted_changes_are_counted_in_their_session_and_not_kept(
    sessions: sessionmaker[Session],
) -> None:
    before = total(sessions)
    with sessions() as session:
        fresh = {k: v for k, v in alert(50).items() if k != "updated_at"}
        session.add(Alert(**fresh))
        assert list_public_alerts(session, who=CITY)[0] == before + 1
        session.rollback()
    assert total(sessions) == before
