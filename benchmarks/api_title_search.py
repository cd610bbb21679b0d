"""The alert queue's searches in the search language, timed as the API runs them.

For each search: the total and the first page (by risk, 50 alerts, the columns the list
shows), built by the functions the API calls (``soc_api.alerts.queries``), each run alone
``--repeat`` times (the median is printed) with its plan: ``EXPLAIN QUERY PLAN`` on SQLite,
the scans of ``EXPLAIN`` on PostgreSQL. Nothing is written. To time the code of another
tree over the same state, run this file with that tree first on the path::

    .venv/bin/python benchmarks/api_title_search.py sqlite:///state/soc.db camera 203.0.113.7
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/api_title_search.py sqlite:///... camera
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from soc_api.alerts import queries
from soc_api.alerts.models import AlertFilter

SEARCHES = ("camera", "dns", "hikvision", "10.20.0.1", "203.0.113.7", "mirai")


def timed(session: Session, statement: Any, repeat: int) -> tuple[float, list[Any]]:
    times, rows = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        rows = list(session.execute(statement).all())
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), rows


def plan(engine: Engine, session: Session, statement: Any) -> str:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    conn = session.connection()
    if engine.dialect.name == "sqlite":
        return "; ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    steps = [row[0].strip() for row in conn.exec_driver_sql("EXPLAIN " + sql)]
    return "; ".join(s.split("  (cost")[0] for s in steps if "Scan" in s or "BitmapOr" in s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state", help="the SOC state's URL (SQLAlchemy)")
    parser.add_argument("searches", nargs="*", default=SEARCHES)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plans", action="store_true", help="print each query's plan")
    args = parser.parse_args()
    from soc_api.db import make_engine

    engine = make_engine(args.state)
    dialect = engine.dialect.name
    with Session(engine) as session:
        for text in args.searches:
            filters = AlertFilter(q=text)
            query = queries.alert_query(agencies=None, filters=filters, dialect=dialect)
            count = select(func.count()).select_from(query.order_by(None).subquery())
            total_ms, rows = timed(session, count, args.repeat)
            total = int(rows[0][0])
            choose = getattr(queries, "_page_query", None)  # absent from trees before it
            if choose is not None:
                again = partial(
                    queries.alert_query,
                    agencies=None, filters=filters, dialect=dialect, narrow=False,
                )  # fmt: skip
                query = choose(session, query, total, 50, again)
            page = (
                queries._ordered(query, filters.sort)
                .with_only_columns(*queries._PUBLIC_COLUMNS, maintain_column_froms=True)
                .limit(50)
            )
            page_ms, _ = timed(session, page, args.repeat)
            print(f"{text!r}: {total} found: total {total_ms:.1f} ms, page {page_ms:.1f} ms")
            if args.plans:
                print(f"  total: {plan(engine, session, count)}")
                print(f"  page:  {plan(engine, session, page)}")


if __name__ == "__main__":
    main()
