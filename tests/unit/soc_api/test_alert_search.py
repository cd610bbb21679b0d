"""The query language on alerts, compiled to SQL: every form against a small set of alerts in
a migrated SQLite state. ``CASES`` run on PostgreSQL too
(tests/integration/soc_api/test_alert_search_postgres.py): both must give the same alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from citysoc.core.errors import QueryError
from citysoc.core.query import compile_query
from soc_api.alerts.models import Alert
from soc_api.db import make_engine
from soc_api.migrate import upgrade
from soc_api.search.alert_sql import alert_schema, to_sql
from tests.unit.core.test_query_language import queries


def alert(name: str, **fields: Any) -> Alert:
    base: dict[str, Any] = {
        "rule_id": f"id-{name}",
        "rule_name": name,
        "title": name.replace("_", " "),
        "severity": "medium",
        "risk_score": 47,
        "status": "new",
        "agency": "d1",
        "segment": "cam-d1",
        "security_level": 2,
        "entity": {},
        "dedup_key": name,
        "event_ids": [],
        "event_count": 1,
        "first_seen": "2026-11-20T02:00:00.000Z",
        "last_seen": "2026-11-20T02:10:00.000Z",
        "runbook": "",
        "tags": [],
        "note": "",
        "observables": [],
        "targets": [],
    }
    return Alert(**{**base, **fields})


def corpus() -> list[Alert]:
    """The alerts every case runs against (fresh objects for each database)."""
    return [
        alert(
            "credential_access_rtsp_brute_force",
            severity="high",
            risk_score=73,
            attacker="ip:203.0.113.77",
            targets=["ip:10.31.0.21"],
            observables=["ip:203.0.113.77", "ip:10.31.0.21"],
            tags=["attack.t1110"],
        ),
        alert(
            "initial_access_hikvision_cve_2021_36260",
            agency="tanbinh",
            severity="critical",
            risk_score=99,
            attacker="ip:203.0.113.77",
            targets=["ip:10.32.0.21", "ip:10.32.0.22"],
            observables=["ip:203.0.113.77"],
            status="closed",
            close_reason="true_positive",
            last_seen="2026-11-21T08:00:00.000Z",
            assignee="lan",
        ),
        alert(
            "lateral_movement_telnet_from_camera",
            agency="tanbinh",
            attacker="ip:10.32.0.21",
            targets=[f"ip:10.31.0.{n}" for n in range(20, 40)],
            observables=["ip:10.32.0.21"],
            last_seen="2026-11-19T23:00:00.000Z",
            note="Mirai-like sweep",
        ),
        alert(
            "credential_access_ssh_brute_force",
            agency="dc",
            attacker="user:root",
            targets=["host:dc-web-01"],
            observables=["user:root", "host:dc-web-01"],
            risk_score=50,
            security_level=None,
        ),
        alert(
            "exfiltration_dns_tunnel",
            agency="dc",
            observables=["domain:bad.example.net"],
            infrastructure=["ip:2001:db8::53", "url:http://cam.example:8080/x"],
            fingerprints=["ja3:abc"],
            status="acknowledged",
        ),
    ]


ALERTS = corpus()
RTSP, HIK, TELNET, SSH, DNS = (a.rule_name for a in ALERTS)

CASES: list[tuple[str, set[str]]] = [
    ("203.0.113.77", {RTSP, HIK}),
    ("10.31.0.25", {TELNET}),
    ("targets:10.31.0.0/16", {RTSP, TELNET}),
    ("attacker:10.32.0.0/24", {TELNET}),
    ("targets:10.32.0.20/30", {HIK}),
    ("attacker:ip:203.0.113.77", {RTSP, HIK}),
    ("observables:user:ROOT", {SSH}),
    ("root", {SSH}),
    ("dc-web-01", {SSH}),
    ("rule_name:credential_access_*", {RTSP, SSH}),
    ("rule.name:credential_access_ssh_brute_force", {SSH}),
    ("brute", {RTSP, SSH}),
    ('"hikvision cve"', {HIK}),
    ("risk_score:>=70", {RTSP, HIK}),
    ("risk_score:[48 TO 73}", {SSH}),
    ("severity:(high critical)", {RTSP, HIK}),
    ("NOT status:closed AND agency:tanbinh", {TELNET}),
    ("@timestamp:>=2026-11-21", {HIK}),
    ("last_seen:<=2026-11-19", {TELNET}),
    ("first_seen:2026-11-20", {RTSP, HIK, TELNET, SSH, DNS}),
    ("NOT assignee:lan", {RTSP, TELNET, SSH, DNS}),
    ("assignee:*", {HIK}),
    ("NOT security_level:2", {SSH}),
    ("note:mirai", {TELNET}),
    ("tags:attack.t1110", {RTSP}),
    ("fingerprints:abc", {DNS}),
    ("status:acknowledged OR close_reason:true_positive", {HIK, DNS}),
    ("title:%", set()),
    ('attacker:"ip:203.0.113.7_"', set()),
    # entity look-ups, answered from the entity table's index (soc_api.alerts.entity_keys)
    ("203.0.113.77 AND severity:critical", {HIK}),
    ("targets:IP:10.31.0.21", {RTSP, TELNET}),
    ("targets:10.31.0.2", set()),
    ("targets:10.31.0.21/32", {RTSP, TELNET}),
    ("targets:0.0.0.0/0", {RTSP, HIK, TELNET}),
    ("NOT attacker:ip:203.0.113.77", {TELNET, SSH, DNS}),
    ('"2001:db8::53"', {DNS}),
    ('infrastructure:"ip:2001:db8::53"', {DNS}),
    ('"db8::53"', {DNS}),
    ('"8080/x"', {DNS}),
    ("observables:ip:203.0.113.*", {RTSP, HIK}),
    ("targets:host:DC-WEB-01 OR attacker:user:root", {SSH}),
    ("x" * 600, set()),
]


def matching(engine: Engine, query: str) -> set[str]:
    condition = compile_query(query, alert_schema())
    where = to_sql(condition, dialect=engine.dialect.name)
    with Session(engine) as session:
        return set(session.scalars(select(Alert.rule_name).where(where)))


def seeded(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        session.add_all(corpus())
        session.commit()
    return engine


@pytest.fixture(scope="module")
def sqlite_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("state") / "soc.db"
    engine = seeded(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
def test_each_form_finds_the_alerts_it_names(
    sqlite_state: Engine, query: str, expected: set[str]
) -> None:
    assert matching(sqlite_state, query) == expected


def test_ipv6_networks_are_refused_for_alerts_with_the_reason() -> None:
    condition = compile_query("targets:2001:db8::/32", alert_schema())
    with pytest.raises(QueryError, match="IPv6 networks are searched in events"):
        to_sql(condition, dialect="sqlite")


def test_a_value_cannot_reach_the_sql_text() -> None:
    condition = compile_query('title:"\'; DROP TABLE alerts; --"', alert_schema())
    sql = str(to_sql(condition, dialect="sqlite").compile(dialect=sqlite.dialect()))
    assert "DROP" not in sql and "?" in sql


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=queries(["rule_name", "risk_score", "targets", "attacker", "last_seen", "title",
                     "status", "observables", "security_level", "assignee"]))  # fmt: skip
def test_random_queries_run_on_the_state_or_give_a_query_error(
    sqlite_state: Engine, text: str
) -> None:
    try:
        found = matching(sqlite_state, text)
    except QueryError:
        return
    assert found <= {a.rule_name for a in ALERTS}
