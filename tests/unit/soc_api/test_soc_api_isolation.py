"""Walk every route of the OpenAPI as callers of two agencies: no data crosses.

Each route is called with the other agency's ids (alerts, incidents, IOCs); list routes must
not name the other agency or its addresses, detail routes answer 404, actions 403 or 404, and
the other agency's alerts are unchanged afterwards. A route added without a case here fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from citysoc.core.ecs import event_id
from soc_api.auth.models import User
from soc_api.auth.service import load_principal
from soc_api.db import transaction
from soc_api.iocs.models import IocCreate, IocKind, Tlp
from soc_api.iocs.service import create_ioc

Soc = Any  # the seeded SOC helper of conftest.py

SECRETS = {  # what must never reach the other agency
    "tanbinh": ('"tanbinh"', "10.32.0.2", "evil-tanbinh.example", "198.51.100.7"),
    "d1": ('"d1"', "10.31.0.21", "evil-d1.example"),
}
CALLERS = [  # (caller, its agency, the other agency)
    ("d1", "d1", "tanbinh"),
    ("tb", "tanbinh", "d1"),
    ("token:read-d1", "d1", "tanbinh"),
    ("token:read-tb", "tanbinh", "d1"),
    ("aud-d1", "d1", "tanbinh"),  # an agency's auditor
    ("aud-tb", "tanbinh", "d1"),
]


@dataclass(frozen=True)
class Case:
    expect: frozenset[int]
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


OK, HIDDEN, REFUSED = frozenset({200, 201}), frozenset({404}), frozenset({403, 404})
CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/alerts"): Case(OK, params={"limit": 500}),
    ("GET", "/api/v1/alerts/export"): Case(OK),
    ("POST", "/api/v1/alerts/bulk"): Case(
        frozenset({200, 403}), json={"ids": ["{alert}"], "status": "acknowledged"}
    ),
    ("GET", "/api/v1/alerts/{alert_id}"): Case(HIDDEN),
    ("PATCH", "/api/v1/alerts/{alert_id}"): Case(REFUSED, json={"status": "acknowledged"}),
    ("GET", "/api/v1/incidents"): Case(OK),
    ("GET", "/api/v1/incidents/{incident_id}"): Case(HIDDEN),
    ("GET", "/api/v1/incidents/targets"): Case(OK),
    ("POST", "/api/v1/incidents/{incident_id}/notes"): Case(REFUSED, json={"note": "mine now"}),
    ("GET", "/api/v1/iocs"): Case(OK, params={"limit": 500}),
    ("POST", "/api/v1/iocs"): Case(
        frozenset({201, 403}), json={"kind": "domain", "value": "mine.example", "tlp": "RED"}
    ),
    ("GET", "/api/v1/iocs/{ioc_id}"): Case(HIDDEN),
    ("POST", "/api/v1/iocs/import"): Case(
        frozenset({200, 403}),
        content=b"kind,value\nip,192.0.2.99\n",
        headers={"content-type": "text/csv"},
    ),
    ("POST", "/api/v1/ingest"): Case(frozenset({403}), content=b"{}\n"),
    ("GET", "/api/v1/rules"): Case(frozenset({200, 403})),  # 403 for machine tokens
    ("GET", "/api/v1/audit"): Case(frozenset({200, 403})),  # 200 for an agency's auditor
    ("GET", "/api/v1/audit/verify"): Case(frozenset({200, 403})),
    ("GET", "/api/v1/audit/verify/anchored"): Case(frozenset({200, 403})),
    ("GET", "/api/v1/releases"): Case(frozenset({200, 403})),  # 200 for auditors: no agency data
    ("POST", "/api/v1/releases"): Case(frozenset({403}), json={"manifest": {}, "decision": {}}),
    ("POST", "/api/v1/releases/{release_id}/promote"): Case(frozenset({403}), json={}),
    ("POST", "/api/v1/releases/rollback"): Case(frozenset({403}), json={}),
    ("GET", "/health"): Case(OK),
    ("GET", "/metrics"): Case(frozenset({403})),
}


def other_agency_objects(soc: Soc, other: str) -> dict[str, int]:
    """Give the other agency an incident of its own and an AMBER+STRICT IOC; return ids."""
    cameras = ("10.32.0.22", "10.32.0.23") if other == "tanbinh" else ("10.31.0.22", "10.31.0.23")
    attacker = "198.51.100.7" if other == "tanbinh" else "198.51.100.8"
    for camera in cameras:
        soc.ctx.store.write([
            {"event.id": event_id(camera, s), "@timestamp": f"2026-11-20T03:10:{s:02d}.000Z",
             "network.protocol": "rtsp", "rtsp.response.status_code": 401,
             "source.ip": attacker, "destination.ip": camera, "organization.id": other,
             "citysoc.segment": f"cam-{other}", "citysoc.security_level": 2}
            for s in range(0, 12, 2)
        ])  # fmt: skip
    assert soc.ctx.scheduler.run_once().created == 1  # one attacker's guessing: one alert
    owner = "tb" if other == "tanbinh" else "d1"
    with transaction(soc.ctx.sessions) as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        who = load_principal(session, user.id)
        assert who is not None
        data = IocCreate(kind=IocKind.DOMAIN, value=f"evil-{other}.example", tlp=Tlp.AMBER_STRICT)
        ioc = create_ioc(session, data=data, who=who).id
    soc.login("city")
    alerts = soc.client.get("/api/v1/alerts", params={"agency": other, "sort": "newest"}).json()
    incidents = soc.client.get("/api/v1/incidents").json()["items"]
    soc.client.cookies.clear()
    own_incident = next(i["id"] for i in incidents if i["agencies"] == [other])
    return {"alert": alerts["items"][-1]["id"], "incident": own_incident, "ioc": ioc}


def call(soc: Soc, caller: str, method: str, path: str, case: Case, ids: dict[str, int]) -> Any:
    headers = dict(case.headers or {})
    if caller.startswith("token:"):
        soc.client.cookies.clear()
        headers["Authorization"] = f"Bearer {soc.tokens[caller.removeprefix('token:')]}"
    url = path.format(
        alert_id=ids["alert"], incident_id=ids["incident"], ioc_id=ids["ioc"], release_id=1
    )
    body = case.json
    if isinstance(body, dict) and body.get("ids") == ["{alert}"]:
        body = {**body, "ids": [ids["alert"]]}
    return soc.client.request(method, url, params=case.params, json=body,
                              content=case.content, headers=headers)  # fmt: skip


def test_every_route_has_a_case(soc: Soc) -> None:
    schema = soc.client.get("/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert routes == set(CASES), "add an isolation case for every new route"


@pytest.mark.parametrize(("caller", "mine", "other"), CALLERS)
def test_no_data_crosses_agencies(soc: Soc, caller: str, mine: str, other: str) -> None:
    ids = other_agency_objects(soc, other)
    if not caller.startswith("token:"):
        assert soc.login(caller) == 303
    for (method, path), case in CASES.items():
        response = call(soc, caller, method, path, case, ids)
        where = f"{caller} {method} {path}"
        assert response.status_code in case.expect, (where, response.status_code, response.text)
        assert response.headers["content-type"].split(";")[0] in ("application/json", "text/csv",
                                                                  "text/plain"), where  # fmt: skip
        for secret in SECRETS[other]:
            assert secret not in response.text, (where, secret)
        if response.status_code >= 400:
            assert response.json()["error"]["message"], where
    soc.login("city")
    untouched = soc.client.get(f"/api/v1/alerts/{ids['alert']}").json()["alert"]
    assert (untouched["status"], untouched["assignee"]) == ("new", None)
    assert soc.client.get(f"/api/v1/iocs/{ids['ioc']}").status_code == 200  # city SOC sees it


def test_an_agency_auditor_reads_only_its_agency_in_the_audit_log(soc: Soc) -> None:
    other_agency_objects(soc, "tanbinh")
    soc.login("auditor")  # the city's auditor sees the other agency's entries
    city = soc.client.get("/api/v1/audit", params={"limit": 500}).json()
    assert "tanbinh" in {item["agency"] for item in city["items"]}
    soc.client.cookies.clear()
    soc.login("aud-d1")
    mine = soc.client.get("/api/v1/audit", params={"limit": 500}).json()
    assert mine["items"] and {item["agency"] for item in mine["items"]} == {"d1"}
