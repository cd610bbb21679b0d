"""The query plans behind the benchmark's requests, printed with each query's time.

The SQL is built by the same functions the API calls (``soc_api.alerts.queries``,
``soc_api.incidents.service``), compiled for the database at hand with its values inlined,
then explained: ``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on
PostgreSQL (which also times it); each query is also run and timed (best of three).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, func, select

from citysoc.core.query import compile_query, event_schema
from citysoc.core.query.tree import Condition
from eventstore import query_sqlite
from eventstore.sqlite import TABLE, SqliteEventStore, connect
from soc_api.alerts.models import Alert, AlertFilter
from soc_api.alerts.queries import _ordered, alert_query
from soc_api.db import make_engine
from soc_api.incidents.service import MAX_ALERTS
from soc_api.search.models import EntityKind
from soc_api.search.pivot import alert_condition, event_condition
from soc_api.state_cache import fingerprint_query


def statements(seeded: dict[str, Any], dialect: str) -> list[tuple[str, Select[Any]]]:
    def listing(
        agencies: list[str] | None, condition: Condition | None = None, **given: Any
    ) -> list[tuple[str, Select[Any]]]:
        filters = AlertFilter(**given)
        query = alert_query(
            agencies=agencies, filters=filters, dialect=dialect, condition=condition
        )
        name = ", ".join(f"{k}={v}" for k, v in given.items()) or "no filter"
        if condition is not None:
            name = "pivot's alerts"
        if agencies:
            name += f" (agencies {','.join(agencies)})"
        count = select(func.count()).select_from(query.order_by(None).subquery())
        return [
            (f"count: {name}", count),
            (f"page: {name}", _ordered(query, filters.sort).limit(50).offset(450)),
        ]

    attacker = next(a for a in seeded["attackers"] if a)
    # as incidents.service._candidates: the newest alerts, false positives left out
    candidates = (
        select(Alert)
        .where(Alert.close_reason.is_(None) | (Alert.close_reason != "false_positive"))
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
    )
    return [
        *listing(None),
        *listing(["d1"]),
        *listing(None, status="new", severity="high", sort="newest"),
        *listing(None, rule="initial_access_sql_injection", sort="newest"),
        *listing(None, assignee="analyst3", status="in_progress"),
        *listing(None, agency="tanbinh", sort="severity"),
        *listing(None, attacker=attacker),
        *listing(None, q=attacker.removeprefix("ip:")),
        *listing(None, q="camera"),
        *listing(
            None,
            condition=alert_condition(EntityKind.IP, attacker.removeprefix("ip:"))[0],
            sort="newest",
        ),
        ("detail", select(Alert).where(Alert.id == seeded["top"] // 2)),
        ("incident candidates", candidates.limit(MAX_ALERTS)),
        ("the state's fingerprint", fingerprint_query()),
    ]


def explain_all(state_url: str, store_path: Path, seeded: dict[str, Any]) -> None:
    engine = make_engine(state_url)
    try:
        for name, statement in statements(seeded, engine.dialect.name):
            sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
            if engine.dialect.paramstyle in ("format", "pyformat"):
                sql = sql.replace("%", "%%")
            print(f"-- {name} ({best_of_three(engine, sql):.1f} ms)")
            for line in plan(engine, sql):
                print(f"     {line}")
    finally:
        engine.dispose()
    explain_events(store_path, next(a for a in seeded["attackers"] if a).removeprefix("ip:"))
    conn = connect(store_path, readonly=True)
    try:
        ids = [row[0] for row in conn.execute(f'SELECT "event.id" FROM {TABLE} LIMIT 20')]
        sql = f'SELECT * FROM {TABLE} WHERE "event.id" IN (SELECT value FROM json_each(?))'
        started = time.perf_counter()
        conn.execute(sql + " ORDER BY seq", (json.dumps(ids),)).fetchall()
        took = (time.perf_counter() - started) * 1000
        print(f"-- evidence: 20 events by id from the event store ({took:.1f} ms)")
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql + " ORDER BY seq", (json.dumps(ids),)):
            print(f"     {row[-1]}")
    finally:
        conn.close()


def best_of_three(engine: Engine, sql: str) -> float:
    times = []
    with engine.connect() as conn:
        for _ in range(3):
            started = time.perf_counter()
            conn.exec_driver_sql(sql).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return min(times)


def plan(engine: Engine, sql: str) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return [str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [str(row[0]) for row in rows]


def explain_events(store_path: Path, address: str) -> None:
    """The event store's side of an event search by ``source.ip`` and of a pivot on an
    address (the total, the page, the sightings per agency), as ``SqliteEventStore`` runs
    them (``eventstore.query_sqlite``)."""
    with SqliteEventStore(store_path) as store:
        compiler = query_sqlite.Compiler(store._read_columns(), store._known_kinds())
        query_sqlite.register(store.conn)
        for name, condition in (
            ("events: source.ip", compile_query(f"source.ip:{address}", event_schema())),
            ("pivot's events", event_condition(EntityKind.IP, address)[0]),
        ):
            where, values = query_sqlite._scope(condition, None, compiler)
            source, given = query_sqlite._events(condition)
            for part, sql in (
                ("total", f"SELECT COUNT(*) FROM {source} WHERE {where}"),
                ("page", f"SELECT {TABLE}.* FROM {source} WHERE {where} "
                         f'ORDER BY "@timestamp" DESC, {TABLE}.seq DESC LIMIT 25'),
                ("by agency", f'SELECT "organization.id", COUNT(*) FROM {source} '
                              f'WHERE {where} GROUP BY "organization.id"'),
            ):  # fmt: skip
                args = [*given, *values]
                times = []
                for _ in range(3):
                    started = time.perf_counter()
                    store.conn.execute(sql, args).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                print(f"-- {name}: {part} ({min(times):.1f} ms)")
                for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, args):
                    print(f"     {row[-1]}")
