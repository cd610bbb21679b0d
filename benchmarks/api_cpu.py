"""CPU of the alert list and alert detail in process: the ORM-row path and the plain-row path.

One SOC state (``--alerts``, seeded as ``bench_api.py`` seeds it, over the kept 50,000-event
store) is read by both, alternating request by request: session, authentication, query,
response models and the response's JSON, without HTTP. "ORM rows" is the list as it was read
before the plain-row path: whole ``Alert`` instances validated into ``AlertPublic``, JSON
columns decoded by the standard library, the token read on every request. Both answers are
checked byte for byte before timing. ``--profile`` prints cProfile of each for the queue.

Run: .venv/bin/python benchmarks/api_cpu.py [--alerts 20000] [--rounds 150] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_data import OUT
from bench_api import seed

from citysoc.core.settings import Settings
from citysoc.core.topology import load_topology
from eventstore.sqlite import SqliteEventStore
from soc_api.alerts.models import (
    AlertDetail,
    AlertFilter,
    AlertPage,
    AlertStatus,
    Severity,
    SortKey,
)
from soc_api.alerts.queries import (
    get_alert,
    list_alerts,
    list_public_alerts,
    public_of,
    visible_evidence,
)
from soc_api.alerts.visibility import visible_alert, visible_alerts
from soc_api.alerts.workflow import allowed_transitions
from soc_api.auth.recent import recent
from soc_api.auth.tokens import authenticate_token
from soc_api.db import make_engine
from soc_api.runbooks import render_runbook

STORE = OUT / "events-50000.db"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not STORE.exists():
        raise SystemExit(f"{STORE} is missing: bench_api.py --events 50000 --prepare-only")
    with tempfile.TemporaryDirectory(prefix="api-cpu-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'soc.db'}"
        seeded = seed(url, STORE, args.alerts, 50_000, 50_000)
        plain_engine = create_engine(url, connect_args={"check_same_thread": False})
        orm_rows = sessionmaker(plain_engine, expire_on_commit=False)
        plain_rows = sessionmaker(make_engine(url), expire_on_commit=False)
        topology = load_topology(Settings().topology_path)
        store = SqliteEventStore(STORE)

        def old_list(session: Session, token: str, filters: AlertFilter) -> str:
            recent.forget_all()  # the token read every time, as before
            who = authenticate_token(session, token)
            total, rows = list_alerts(session, who=who, filters=filters)
            items = visible_alerts(rows, who=who, topology=topology)
            return AlertPage(total=total, limit=50, offset=0, items=items).model_dump_json()

        def new_list(session: Session, token: str, filters: AlertFilter) -> str:
            who = authenticate_token(session, token)
            total, rows = list_public_alerts(session, who=who, filters=filters)
            items = visible_alerts(rows, who=who, topology=topology)
            page = AlertPage.model_construct(total=total, limit=50, offset=0, items=items)
            return page.model_dump_json()

        def detail(build: bool) -> Callable[[Session, str, int], str]:
            def one(session: Session, token: str, alert_id: int) -> str:
                if not build:
                    recent.forget_all()
                who = authenticate_token(session, token)
                alert = get_alert(session, alert_id=alert_id, who=who)
                shown = public_of(alert) if build else alert
                public = visible_alert(shown, who=who, topology=topology)
                evidence, withheld = visible_evidence(store, alert.event_ids[:200], who=who)
                values: dict[str, Any] = {
                    "alert": public,
                    "evidence": evidence,
                    "evidence_withheld": withheld,
                    "runbook_markdown": render_runbook(alert.runbook, public),
                    "allowed_transitions": allowed_transitions(alert),
                }
                made = AlertDetail.model_construct(**values) if build else AlertDetail(**values)
                return made.model_dump_json()

            return one

        city, d1 = seeded["tokens"]["city"], seeded["tokens"]["d1"]
        cases: list[tuple[str, Callable[..., str], Callable[..., str], str, Any]] = [
            ("queue, city-wide, by risk", old_list, new_list, city, AlertFilter()),
            ("queue, one agency (d1)", old_list, new_list, d1, AlertFilter()),
            ("filter: status + severity, newest", old_list, new_list, city,
             AlertFilter(status=AlertStatus.NEW, severity=Severity.HIGH, sort=SortKey.NEWEST)),
            ("filter: agency, by severity", old_list, new_list, city,
             AlertFilter(agency="d1", sort=SortKey.SEVERITY)),
            ("alert detail + evidence", detail(False), detail(True), city, seeded["top"] // 2),
            ("alert detail, agency analyst", detail(False), detail(True), d1, seeded["d1_ids"][5]),
        ]  # fmt: skip
        print(f"{args.alerts:,} alerts, {args.rounds} rounds a kind, the two paths alternating; "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        for name, old, new, token, arg in cases:
            with orm_rows() as a, plain_rows() as b:
                if old(a, token, arg) != new(b, token, arg):
                    raise SystemExit(f"{name}: the two paths answer differently")
            spent = [0.0, 0.0]
            for _ in range(args.rounds):
                for n, (path, factory) in enumerate(((old, orm_rows), (new, plain_rows))):
                    started = time.process_time()
                    with factory() as session:
                        path(session, token, arg)
                    spent[n] += time.process_time() - started
            before, after = (1000 * s / args.rounds for s in spent)
            print(f"  {name:<36} ORM rows {before:5.2f} ms   plain rows {after:5.2f} ms "
                  f"({after / before:.2f}x)")  # fmt: skip
        if args.profile:
            for label, path, factory in (("ORM rows", old_list, orm_rows),
                                         ("plain rows", new_list, plain_rows)):  # fmt: skip
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(args.rounds):
                    with factory() as session:
                        path(session, city, AlertFilter())
                profile.disable()
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
                print(f"--- the city-wide queue, {label}\n{out.getvalue()}")
        plain_engine.dispose()


if __name__ == "__main__":
    main()
