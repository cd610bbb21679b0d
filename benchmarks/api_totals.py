"""The queue's totals once per state of the alerts: what a count costs, what the state's
fingerprint costs, the list with its total kept, and whether counts of different keys should
wait for each other.

On a seeded SOC state (``--state``, e.g. a copy of one ``bench_api.py`` seeded; or ``--alerts``
seeds a fresh one over the kept 50,000-event store), in process, the median CPU time of one
call (the database's work included: SQLite runs in the caller's thread):

- the ``COUNT`` of three queues (city-wide, status + severity, one agency's analyst) alone;
- the fingerprint query alone (:func:`soc_api.state_cache.fingerprint`);
- ``list_public_alerts`` with the total counted every time (the cache emptied before each
  call: fingerprint + count + page) and kept (fingerprint + page);

then one agency's count, every total a miss, while another thread counts a slow search
(``segment:*1*``, every alert read) over and over: under a cache whose computations wait for
each other (``one_at_a_time``, as the incidents') and one whose do not (the totals'), wall
time.

Run: .venv/bin/python benchmarks/api_totals.py --state sqlite:////path/to/copy/soc.db
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import OUT
from bench_api import seed

from soc_api.alerts import queries
from soc_api.alerts.models import AlertFilter, AlertStatus, Severity, SortKey
from soc_api.alerts.queries import alert_query, list_public_alerts
from soc_api.auth.models import Principal, Role, TokenScope
from soc_api.db import make_engine
from soc_api.state_cache import StateCache, fingerprint

CITY = Principal(-1, "city", Role.AUDITOR, None, TokenScope.READ)
D1 = Principal(-2, "d1", Role.AGENCY_ANALYST, "d1", TokenScope.READ)
KINDS: list[tuple[str, Principal, AlertFilter, int]] = [
    ("city-wide queue, offset 50", CITY, AlertFilter(), 50),
    (
        "status new + critical, newest",
        CITY,
        AlertFilter(status=AlertStatus.NEW, severity=Severity.CRITICAL, sort=SortKey.NEWEST),
        0,
    ),
    ("one agency's analyst (d1)", D1, AlertFilter(), 0),
]


def median_ms(run: Callable[[], Any], rounds: int) -> float:
    """The median CPU time of one call, in this thread (the database's work included: SQLite
    runs in it), so that other work on the machine changes it less than wall time."""
    run()  # warm: statement caches, pages
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return 1000 * statistics.median(times)


def count_of(who: Principal, filters: AlertFilter) -> Any:
    query = alert_query(agencies=who.agencies, filters=filters)
    return select(func.count()).select_from(query.order_by(None).subquery())


def one_at_a_time(sessions: sessionmaker[Session], rounds: int) -> None:
    """A slow count (a wildcard search that reads every alert) computed over and over in one
    thread while another counts one agency's queue, every total a miss (as after each change):
    the agency's count times, wall."""
    slow = count_of(CITY, AlertFilter(q="segment:*1*"))
    fast = count_of(D1, AlertFilter())
    for serial in (True, False):
        cache = StateCache(one_at_a_time=serial, isolate=False)
        stop = threading.Event()

        def busy(cache: StateCache = cache, stop: threading.Event = stop) -> None:
            with sessions() as session:
                while not stop.is_set():
                    cache.get(session, "slow", lambda s: s.scalar(slow))
                    cache.clear()

        thread = threading.Thread(target=busy)
        thread.start()
        times = []
        with sessions() as session:
            for _ in range(max(10, rounds // 10)):
                cache.clear()
                start = time.perf_counter()
                cache.get(session, "fast", lambda s: s.scalar(fast))
                times.append(time.perf_counter() - start)
        stop.set()
        thread.join()
        name = "one at a time (the incidents')" if serial else "per key (the totals')"
        print(
            f"one agency's count beside a slow search, {name}: median "
            f"{1000 * statistics.median(times):.1f} ms, longest {1000 * max(times):.1f} ms"
        )


def measure(url: str, rounds: int) -> None:
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        print(f"fingerprint alone: {median_ms(lambda: fingerprint(session), rounds):.2f} ms")
        for name, who, filters, offset in KINDS:
            statement = count_of(who, filters)
            total = session.scalar(statement)

            def listed(counted: bool, who: Principal = who, filters: AlertFilter = filters,
                       offset: int = offset) -> None:  # fmt: skip
                if counted:
                    queries.TOTALS.clear()
                list_public_alerts(session, who=who, filters=filters, offset=offset)

            count = median_ms(lambda statement=statement: session.scalar(statement), rounds)
            every = median_ms(lambda listed=listed: listed(True), rounds)
            kept = median_ms(lambda listed=listed: listed(False), rounds)
            print(f"{name} (total {total}): count alone {count:.2f} ms; list with the total "
                  f"counted {every:.2f} ms, kept {kept:.2f} ms")  # fmt: skip
    one_at_a_time(sessions, rounds)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", help="SQLAlchemy URL of a seeded state (a copy)")
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    if args.state:
        measure(args.state, args.rounds)
        return
    store = OUT / "events-50000.db"
    if not store.exists():
        raise SystemExit(f"{store} is missing: bench_api.py --events 50000 --prepare-only")
    with tempfile.TemporaryDirectory(prefix="api-totals-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'soc.db'}"
        seed(url, store, args.alerts, 50_000, 50_000)
        measure(url, args.rounds)


if __name__ == "__main__":
    main()
