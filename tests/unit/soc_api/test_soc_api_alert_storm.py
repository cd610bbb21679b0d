"""A storm of one rule on one attacker: one alert, every event counted, a bounded evidence list."""

from __future__ import annotations

from typing import Any

from citysoc.core.ecs import event_id
from soc_api.alerts.models import Alert
from soc_api.alerts.service import MAX_EVIDENCE

Soc = Any  # the seeded SOC helper of conftest.py

ATTACKER, CAMERA = "203.0.113.66", "10.31.0.11"


def _exploit(n: int) -> dict[str, object]:
    return {
        "event.id": event_id("storm", ATTACKER, n),
        "@timestamp": f"2026-11-20T02:{20 + n // 6000:02d}:{n // 100 % 60:02d}.{n % 100:02d}0Z",
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
        "citysoc.security_level": 2,
        "citysoc.destination.agency": "d1",
        "citysoc.destination.segment": "cam-d1",
        "citysoc.destination.kind": "camera",
        "citysoc.destination.level": 2,
    }


def test_a_storm_is_one_alert_that_counts_every_event_and_keeps_first_and_latest(soc: Soc) -> None:
    first = [_exploit(n) for n in range(700)]
    second = [_exploit(n) for n in range(700, 1500)]
    soc.ctx.store.write(first)
    assert soc.ctx.scheduler.run_once().created >= 1
    soc.ctx.store.write(second)
    run = soc.ctx.scheduler.run_once()
    assert run.created == 0 and run.hits >= 800
    with soc.ctx.sessions() as session:
        storm = [a for a in session.query(Alert).all() if a.attacker and ATTACKER in a.attacker]
        by_rule: dict[str, Alert] = {}
        for alert in storm:
            assert alert.rule_id not in by_rule, "one alert per rule and attacker"
            by_rule[alert.rule_id] = alert
        counted = [a for a in storm if a.event_count == 1500]
        assert counted, [(a.rule_name, a.event_count) for a in storm]
        alert = counted[0]
        assert len(alert.event_ids) == MAX_EVIDENCE
        ids = [str(e["event.id"]) for e in [*first, *second]]
        assert alert.event_ids[: MAX_EVIDENCE // 2] == ids[: MAX_EVIDENCE // 2]
        assert alert.event_ids[-MAX_EVIDENCE // 2 :] == ids[-MAX_EVIDENCE // 2 :]
