"""A backlog is read in runs of bounded size: what a run holds stays bounded, nothing is lost."""

from __future__ import annotations

from typing import Any

from citysoc.core.ecs import event_id
from soc_api.alerts.models import Alert
from soc_api.scheduler import MAX_EVENTS_PER_RUN

Soc = Any  # the seeded SOC helper of conftest.py

ATTACKER, CAMERA = "203.0.113.67", "10.31.0.11"


def _exploit(n: int) -> dict[str, object]:
    return {
        "event.id": event_id("slices", ATTACKER, n),
        "@timestamp": f"2026-11-20T03:{n // 6000:02d}:{n // 100 % 60:02d}.{n % 100:02d}0Z",
        "event.dataset": "network_traffic.http",
        "event.action": "http_request",
        "network.protocol": "http",
        "source.ip": ATTACKER,
        "destination.ip": CAMERA,
        "destination.port": 80,
        "url.path": "/Security/users",
        "url.query": "auth=YWRtaW46MTEK",
        "http.response.status_code": 200,
        "organization.id": "d1",
        "citysoc.segment": "cam-d1",
        "citysoc.destination.agency": "d1",
        "citysoc.destination.kind": "camera",
    }


def test_the_default_bound_holds_two_intervals_at_the_soak_rate() -> None:
    assert MAX_EVENTS_PER_RUN >= 2 * 5 * 5000


def test_a_backlog_is_read_in_bounded_runs_and_nothing_is_lost(soc: Soc) -> None:
    scheduler = soc.ctx.scheduler
    scheduler.stop()  # runs only here, one by one
    scheduler.run_once()  # the seeded events, if any
    scheduler.max_events = 400
    soc.ctx.store.write([_exploit(n) for n in range(1500)])
    scanned = []
    while True:
        scheduler._wake.clear()
        run = scheduler.run_once()
        if not run.events:
            break
        scanned.append(run.events)
        assert scheduler._wake.is_set() == (sum(scanned) < 1500), "behind: the next run at once"
    assert scanned == [400, 400, 400, 300]
    with soc.ctx.sessions() as session:
        storm = [a for a in session.query(Alert).all() if a.attacker and ATTACKER in a.attacker]
        assert storm and max(a.event_count for a in storm) == 1500


def test_after_a_run_the_address_index_is_caught_up(soc: Soc) -> None:
    from eventstore import addresses

    scheduler = soc.ctx.scheduler
    scheduler.stop()
    store = soc.ctx.store
    store.write([_exploit(n) for n in range(300)])
    scheduler.run_once()
    scheduler.index_addresses()
    upto = store.conn.execute(f"SELECT seq FROM {addresses.UPTO}").fetchone()[0]
    assert upto == store.head()
    found = store.conn.execute(
        f"SELECT count(*) FROM {addresses.TABLE} WHERE address = ?", (ATTACKER,)
    ).fetchone()[0]
    assert found >= 300
