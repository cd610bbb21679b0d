"""An attack from one agency's infrastructure host on another agency's camera is an alert for
each agency: the victim's analysts see it even though the rule names no attacker."""

from __future__ import annotations

from typing import Any

from citysoc.core.ecs import event_id

Soc = Any  # the seeded SOC helper of conftest.py

VMS, CAMERA = "10.20.0.10", "10.31.0.11"


def _hikvision_bypass_from_the_vms() -> dict[str, object]:
    return {
        "event.id": event_id("hikvision-bypass", VMS, CAMERA),
        "@timestamp": "2026-11-20T02:20:00.000Z",
        "event.dataset": "network_traffic.http",
        "event.action": "http_request",
        "network.protocol": "http",
        "source.ip": VMS,
        "destination.ip": CAMERA,
        "destination.port": 80,
        "url.path": "/Security/users",
        "url.query": "auth=YWRtaW46MTEK",
        "http.response.status_code": 200,
        "organization.id": "d1",
        "citysoc.segment": "cam-d1",
        "citysoc.security_level": 2,
        "citysoc.source.agency": "ioc",
        "citysoc.source.segment": "ioc",
        "citysoc.source.role": "vms",
        "citysoc.source.level": 3,
        "citysoc.destination.agency": "d1",
        "citysoc.destination.segment": "cam-d1",
        "citysoc.destination.kind": "camera",
        "citysoc.destination.level": 2,
    }


def test_the_victims_agency_has_its_own_alert_when_the_rule_names_no_attacker(soc: Soc) -> None:
    soc.ctx.store.write([_hikvision_bypass_from_the_vms()])
    run = soc.ctx.scheduler.run_once()
    assert run.created == 2, run
    soc.login("city")
    found = soc.client.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
    bypass = [a for a in found if "CVE-2017-7921" in a["title"]]
    assert sorted(a["agency"] for a in bypass) == ["d1", "ioc"]
    soc.login("d1")
    mine = soc.client.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
    assert [a["agency"] for a in mine if "CVE-2017-7921" in a["title"]] == ["d1"]
    soc.login("tb")
    theirs = soc.client.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
    assert not [a for a in theirs if "CVE-2017-7921" in a["title"]]

    # A repeat folds into each agency's own alert: no new alert.
    again = soc.ctx.scheduler.run_once()
    assert again.created == 0
