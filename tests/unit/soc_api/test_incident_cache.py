"""Incidents are computed once per state of the alerts and notes, and again after any change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from soc_api.alerts.models import Alert
from soc_api.auth.models import Principal, Role, TokenScope
from soc_api.db import init_state, make_engine, transaction
from soc_api.incidents import service
from soc_api.incidents.models import IncidentNote

CITY = Principal(-1, "city", Role.AUDITOR, None, TokenScope.READ)
D1 = Principal(-2, "d1", Role.AGENCY_ANALYST, "d1", TokenScope.READ)
WINDOW = timedelta(hours=1)
LONG_AGO = datetime(2026, 1, 1)  # an alert's last change, long settled


def alert(n: int, attacker: str, agency: str, **extra: Any) -> dict[str, Any]:
    return {
        "rule_id": f"r{n}", "rule_name": f"rule_{n}", "title": f"Alert {n}",
        "severity": "high", "risk_score": 70, "status": "new", "agency": agency,
        "segment": f"cam-{agency}", "security_level": 3, "entity": {},
        "dedup_key": f"k{n}", "event_ids": [f"e{n}"], "event_count": 1,
        "first_seen": f"2026-11-20T02:{n:02d}:00.000Z",
        "last_seen": f"2026-11-20T02:{n:02d}:30.000Z", "attacker": attacker,
        "targets": [f"ip:10.31.0.{n}"], "updated_at": LONG_AGO, **extra,
    }  # fmt: skip


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'soc.db'}")
    factory = init_state(engine)
    with transaction(factory) as session:
        session.execute(
            insert(Alert),
            [
                alert(1, "ip:203.0.113.9", "d1"),
                alert(2, "ip:203.0.113.9", "tanbinh"),
                alert(3, "ip:198.51.100.4", "d1"),
            ],
        )
    service.INCIDENTS.clear()
    yield factory
    engine.dispose()


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the groupings actually computed."""
    calls: list[int] = []
    real = service.group_alerts

    def counting(alerts: Any, window: timedelta) -> Any:
        calls.append(len(alerts))
        return real(alerts, window)

    monkeypatch.setattr(service, "group_alerts", counting)
    return calls


def incidents(sessions: sessionmaker[Session], who: Principal = CITY) -> list[Any]:
    with sessions() as session:
        return service.list_incidents(session, who=who, window=WINDOW)


def test_the_same_state_is_computed_once_for_every_caller(
    sessions: sessionmaker[Session], computed: list[int]
) -> None:
    first = incidents(sessions)
    assert incidents(sessions) == first
    assert [len(i.alerts) for i in first] == [1, 2]  # newest activity first
    assert len(incidents(sessions, D1)[1].alerts) == 1  # d1 sees its part only
    with sessions() as session:
        targets = service.list_targets(session, who=CITY, window=WINDOW)
    assert targets == []
    assert computed == [3]  # one grouping for both callers and the target views


def test_a_change_made_here_is_seen_at_once(
    sessions: sessionmaker[Session], computed: list[int]
) -> None:
    before = incidents(sessions)
    with transaction(sessions) as session:
        # updated_at kept as it was: only the generation tells this process's change
        session.execute(
            update(Alert).where(Alert.id == 3).values(note="looked at", updated_at=LONG_AGO)
        )
    after = incidents(sessions)
    assert after[0].alerts[0].note == "looked at" and before[0].alerts[0].note == ""
    with transaction(sessions) as session:
        session.add(IncidentNote(alert_id=1, note="mine", author="x", created_at="now"))
    assert [n.note for n in incidents(sessions)[1].notes] == ["mine"]
    assert len(computed) == 3


def test_a_change_made_by_another_process_is_seen_by_its_fingerprint(
    sessions: sessionmaker[Session], computed: list[int]
) -> None:
    incidents(sessions)
    engine = sessions.kw["bind"]
    with engine.begin() as conn:  # below the ORM: no session sees it
        conn.execute(insert(Alert.__table__), [alert(4, "ip:198.51.100.4", "d1")])
    assert [len(i.alerts) for i in incidents(sessions)] == [2, 2]
    with engine.begin() as conn:
        conn.execute(
            update(Alert.__table__)
            .where(Alert.__table__.c.id == 4)
            .values(status="closed", updated_at=datetime(2026, 1, 2))
        )
    assert incidents(sessions)[0].alerts[-1].status == "closed"
    assert len(computed) == 3


def test_a_change_not_yet_settled_is_computed_again_each_time(
    sessions: sessionmaker[Session], computed: list[int]
) -> None:
    engine = sessions.kw["bind"]
    with engine.begin() as conn:  # updated_at as the database's clock gives it: now
        conn.execute(text("UPDATE alerts SET updated_at = CURRENT_TIMESTAMP WHERE id = 1"))
    incidents(sessions)
    incidents(sessions)
    assert len(computed) == 2


def test_uncommitted_changes_are_answered_in_their_own_session_and_not_kept(
    sessions: sessionmaker[Session], computed: list[int]
) -> None:
    incidents(sessions)
    with sessions() as session:
        fresh = {k: v for k, v in alert(5, "ip:203.0.113.77", "d1").items() if k != "updated_at"}
        session.add(Alert(**fresh))
        mine = service.list_incidents(session, who=CITY, window=WINDOW)
        assert any(i.actor == "ip:203.0.113.77" for i in mine)
        session.rollback()
    assert not any(i.actor == "ip:203.0.113.77" for i in incidents(sessions))
    assert len(computed) == 2  # the shared result was not replaced by the uncommitted one
