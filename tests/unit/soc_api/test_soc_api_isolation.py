"""Walk every route of the app, API and console pages alike, as callers of two agencies.

The routes are read from the app itself (``app.routes``), not from a list: a route or page
added without a case here fails ``test_every_route_and_page_has_a_case`` until it is
classified. Each caller (an agency's analyst, auditor and read token, for District 1 and Tan
Binh) calls every route with the other agency's objects: an alert with evidence, observables,
an assignee and a note; an incident with a note; a case with a comment and a task; an
AMBER+STRICT IOC; a compliance report; audit entries. Then it opens every alert, incident and
case it may see, among them its own camera's sweep into the other agency's cameras. No answer
may hold anything of the other agency (its id, hosts, attacker, events, IOC, users, notes,
comments, tasks, reports); counts are fine. The other agency's objects are unchanged
afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from starlette.routing import Mount

from citysoc.core.ecs import event_id
from citysoc.core.settings import Settings
from soc_api.alerts.models import Alert
from soc_api.app import create_app
from soc_api.auth.models import Role, User
from soc_api.auth.service import load_principal, upsert_user
from soc_api.db import transaction
from soc_api.iocs.models import IocCreate, IocKind, Tlp
from soc_api.iocs.service import create_ioc

Soc = Any  # the seeded SOC helper of conftest.py

NET = {"d1": "10.31.0", "tanbinh": "10.32.0"}
ATTACKER = {"d1": "198.51.100.8", "tanbinh": "198.51.100.7"}
SWEPT = range(151, 166, 2)  # cameras of an agency that the other agency's camera sweeps
OWN_SWEPT = range(100, 116, 2)  # cameras of an agency that its own infected camera sweeps


def secrets_of(agency: str) -> tuple[str, ...]:
    """What must never reach a caller of the other agency."""
    net = NET[agency]
    return (
        f'"{agency}"', f">{agency}<", f"{net}.21", f"{net}.22", f"{net}.23",
        *(f"{net}.{n}" for n in (*SWEPT, *OWN_SWEPT)), ATTACKER[agency],
        f"evil-{agency}.example",
        f"duty-{agency}", f"note-of-{agency}", f"incident-note-of-{agency}",
        f"report-of-{agency}", f"case-note-of-{agency}", f"task-of-{agency}",
    )  # fmt: skip


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
    form: dict[str, Any] | None = None  # a console form: sent with the session's CSRF token
    files: dict[str, Any] | None = None


OK, HIDDEN, REFUSED = frozenset({200, 201}), frozenset({404}), frozenset({403, 404})
PAGE = frozenset({200, 303, 401, 403})  # a page: shown, or the login / a refusal for others
FORM = frozenset({303, 401, 403, 404})  # a form: done (on the caller's own data) or refused
GONE = frozenset({303, 401, 403, 404})  # a page or form on the other agency's object
CASES: dict[tuple[str, str], Case] = {
    # the API
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
    ("GET", "/api/v1/cases"): Case(OK),
    ("POST", "/api/v1/cases"): Case(REFUSED, json={"alert_ids": ["{alert}"]}),
    ("GET", "/api/v1/cases/{case_id}"): Case(HIDDEN),
    ("PATCH", "/api/v1/cases/{case_id}"): Case(REFUSED, json={"severity": "low"}),
    ("POST", "/api/v1/cases/{case_id}/alerts"): Case(REFUSED, json={"alert_ids": ["{alert}"]}),
    ("POST", "/api/v1/cases/{case_id}/comments"): Case(REFUSED, json={"body": "mine now"}),
    ("POST", "/api/v1/cases/{case_id}/sync"): Case(REFUSED),
    ("POST", "/api/v1/cases/{case_id}/tasks"): Case(REFUSED, json={"title": "mine now"}),
    ("PATCH", "/api/v1/cases/{case_id}/tasks/{task_id}"): Case(REFUSED, json={"done": True}),
    ("GET", "/api/v1/incidents/{incident_id}/case"): Case(HIDDEN),
    ("GET", "/api/v1/events"): Case(OK, params={"limit": 500}),
    ("GET", "/api/v1/pivot/{kind}/{value}"): Case(frozenset({200, 404})),
    ("GET", "/api/v1/notifications"): Case(frozenset({200, 403})),
    ("GET", "/api/v1/overview"): Case(frozenset({200, 403})),
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
    ("GET", "/openapi.json"): Case(OK),
    ("GET", "/docs"): Case(OK),
    ("GET", "/docs/assets/{name}"): Case(frozenset({200, 404})),
    ("GET", "/static/{path}"): Case(OK),
    # the console
    ("GET", "/"): Case(frozenset({303})),
    ("GET", "/login"): Case(frozenset({200, 303})),
    ("POST", "/login"): Case(
        frozenset({401, 403}), form={"username": "duty-{other}", "password": "x"}
    ),
    ("POST", "/lang"): Case(frozenset({303}), form={"lang": "en"}),
    ("GET", "/alerts"): Case(PAGE, params={"agency": "{other}"}),
    ("POST", "/alerts/bulk"): Case(FORM, form={"ids": ["{alert}"], "status": "acknowledged"}),
    ("GET", "/alerts/{alert_id}"): Case(GONE),
    ("POST", "/alerts/{alert_id}/triage"): Case(GONE, form={"status": "acknowledged"}),
    ("GET", "/incidents"): Case(PAGE),
    ("GET", "/incidents/{incident_id}"): Case(GONE),
    ("POST", "/incidents/{incident_id}/notes"): Case(GONE, form={"note": "mine now"}),
    ("GET", "/cases"): Case(PAGE),
    ("POST", "/cases"): Case(GONE, form={"incident_id": "{incident}"}),
    ("GET", "/cases/{case_id}"): Case(GONE),
    ("POST", "/cases/{case_id}/update"): Case(GONE, form={"severity": "low"}),
    ("POST", "/cases/{case_id}/comments"): Case(GONE, form={"body": "mine now"}),
    ("POST", "/cases/{case_id}/sync"): Case(GONE, form={}),
    ("POST", "/cases/{case_id}/tasks"): Case(GONE, form={"title": "mine now"}),
    ("POST", "/cases/{case_id}/tasks/{task_id}"): Case(GONE, form={"done": "true"}),
    ("GET", "/events"): Case(PAGE),
    ("GET", "/pivot/{kind}/{value}"): Case(frozenset({200, 303, 401, 403, 404})),
    ("GET", "/notifications"): Case(PAGE),
    ("GET", "/overview"): Case(PAGE),
    ("GET", "/iocs"): Case(PAGE),
    ("POST", "/iocs"): Case(FORM, form={"kind": "domain", "value": "m.example", "tlp": "RED"}),
    ("GET", "/rules"): Case(PAGE),
    ("GET", "/audit"): Case(PAGE),
    ("GET", "/tokens"): Case(GONE),
    ("POST", "/tokens"): Case(GONE, form={"name": "x", "scope": "read", "agency": "{other}"}),
    ("POST", "/tokens/{token_id}/revoke"): Case(GONE, form={}),
    ("GET", "/compliance"): Case(PAGE),
    ("POST", "/compliance"): Case(
        GONE, form={"agency": "{other}", "period": "2026-H2", "framework": "decree85"}
    ),
    ("GET", "/compliance/reports/{stem}"): Case(GONE),
    ("GET", "/compliance/files/{name}"): Case(GONE),
    ("POST", "/compliance/attest"): Case(
        GONE,
        form={"agency": "{other}", "period": "2026-H2", "requirement": "decree85/x"},
        files={"document": ("a.txt", b"attested", "text/plain")},
    ),
    ("GET", "/releases"): Case(PAGE),
    ("POST", "/releases/{release_id}/promote"): Case(GONE, form={}),
    ("POST", "/releases/rollback"): Case(GONE, form={}),
    ("POST", "/logout"): Case(frozenset({303}), form={}),  # called last: it ends the session
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, API and console, as written in its routes."""
    found: set[tuple[str, str]] = set()

    def add(methods: Iterable[str] | None, path: str) -> None:
        bare = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        found.update((m, bare) for m in methods or ("GET",) if m != "HEAD")

    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)  # an included router
        if contexts is not None:
            for context in contexts() if callable(contexts) else contexts:
                add(context.methods, context.path)
        elif isinstance(route, Mount):
            add(("GET",), f"{route.path}/{{path}}")
        else:
            add(getattr(route, "methods", None), str(getattr(route, "path", route)))
    return found


def make_user(soc: Soc, name: str, role: Role, agency: str) -> None:
    with transaction(soc.ctx.sessions) as session:
        upsert_user(session, username=name, password="duty password 1", role=role, agency=agency)


def telnet(n: int, source: str, camera: str, agency: str) -> dict[str, object]:
    return {
        "event.id": event_id("sweep", source, camera, n),
        "@timestamp": f"2026-11-20T02:14:{n % 60:02d}.000Z",
        "event.kind": "event", "event.category": "network", "event.type": "connection",
        "event.action": "network_flow", "event.dataset": "network_traffic.flow",
        "network.transport": "tcp", "source.ip": source, "destination.ip": camera,
        "destination.port": 23, "event.outcome": "failure",
        "citysoc.source.kind": "camera", "citysoc.destination.kind": "camera",
        "organization.id": agency, "citysoc.segment": f"cam-{agency}",
    }  # fmt: skip


def cross_agency_sweep(soc: Soc, mine: str, other: str) -> None:
    """A camera of ``mine`` sweeps cameras of both agencies on Telnet; its alert (``mine``'s)
    is given every event of the sweep as evidence, whatever the alert service grouped."""
    infected = f"{NET[mine]}.66"
    events = [telnet(n, infected, f"{NET[mine]}.{n}", mine) for n in OWN_SWEPT]
    events += [telnet(n, infected, f"{NET[other]}.{n}", other) for n in SWEPT]
    soc.ctx.store.write(events)
    soc.ctx.scheduler.run_once()
    with transaction(soc.ctx.sessions) as session:
        query = select(Alert).where(Alert.agency == mine, Alert.attacker == f"ip:{infected}")
        for alert in session.scalars(query):
            ids = [*alert.event_ids, *(str(e["event.id"]) for e in events)]
            alert.event_ids = list(dict.fromkeys(ids))
            alert.event_count = len(alert.event_ids)


def agency_objects(soc: Soc, agency: str, other: str) -> dict[str, Any]:
    """An agency's alert (assigned, with a note), incident (with a note), IOC, report, and its
    camera's sweep into the other agency's cameras. Returns the ids to call with."""
    net = NET[agency]
    for camera in (f"{net}.22", f"{net}.23"):
        soc.ctx.store.write([
            {"event.id": event_id(camera, s), "@timestamp": f"2026-11-20T03:10:{s:02d}.000Z",
             "network.protocol": "rtsp", "rtsp.response.status_code": 401,
             "source.ip": ATTACKER[agency], "destination.ip": camera, "organization.id": agency,
             "citysoc.segment": f"cam-{agency}", "citysoc.security_level": 2}
            for s in range(0, 12, 2)
        ])  # fmt: skip
    make_user(soc, f"duty-{agency}", Role.AGENCY_ANALYST, agency)
    owner = "tb" if agency == "tanbinh" else "d1"
    with transaction(soc.ctx.sessions) as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        who = load_principal(session, user.id)
        assert who is not None
        data = IocCreate(kind=IocKind.DOMAIN, value=f"evil-{agency}.example", tlp=Tlp.AMBER_STRICT)
        ioc = create_ioc(session, data=data, who=who).id
    cross_agency_sweep(soc, agency, other)
    soc.login("city")
    alerts = soc.client.get("/api/v1/alerts", params={"agency": agency, "limit": 500}).json()
    alert = next(a["id"] for a in alerts["items"] if a["attacker"] == f"ip:{ATTACKER[agency]}")
    change = {"assignee": f"duty-{agency}", "note": f"note-of-{agency} alert"}
    assert soc.client.patch(f"/api/v1/alerts/{alert}", json=change).status_code == 200
    incidents = soc.client.get("/api/v1/incidents").json()["items"]
    incident = next(i["id"] for i in incidents if i["actor"] == f"ip:{ATTACKER[agency]}")
    note = {"note": f"incident-note-of-{agency}", "assignee": f"duty-{agency}"}
    path = f"/api/v1/incidents/{incident}/notes"
    assert soc.client.post(path, json=note).status_code == 201
    case = soc.client.post("/api/v1/cases", json={"incident_id": incident})
    assert case.status_code == 201, case.text
    url = f"/api/v1/cases/{case.json()['id']}"
    body = {"body": f"case-note-of-{agency}", "agency": agency}
    assert soc.client.post(f"{url}/comments", json=body).status_code == 201
    task = soc.client.post(f"{url}/tasks", json={"title": f"task-of-{agency}", "agency": agency})
    assert task.status_code == 201, task.text
    # the sweep's campaign as one case: the other agency's part holds its comment and task
    campaign = next(i["id"] for i in incidents if i["actor"] == f"ip:{NET[agency]}.66")
    shared = soc.client.post("/api/v1/cases", json={"incident_id": campaign})
    assert shared.status_code == 201, shared.text
    url = f"/api/v1/cases/{shared.json()['id']}"
    body = {"body": f"case-note-of-{other}", "agency": other}
    assert soc.client.post(f"{url}/comments", json=body).status_code == 201
    body = {"title": f"task-of-{other}", "agency": other}
    assert soc.client.post(f"{url}/tasks", json=body).status_code == 201
    soc.client.cookies.clear()
    folder = soc.ctx.settings.data_dir / "compliance"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"decree85-{agency}-2026-H2"
    (folder / f"{stem}.json").write_text(f'{{"title": "report-of-{agency}"}}')
    return {"alert": alert, "incident": incident, "ioc": ioc, "stem": stem, "other": agency,
            "case": case.json()["id"], "task": task.json()["id"]}  # fmt: skip


def both_agencies(soc: Soc) -> dict[str, dict[str, Any]]:
    """The objects of District 1 and of Tan Binh, each agency's camera sweeping the other's."""
    return {"d1": agency_objects(soc, "d1", "tanbinh"),
            "tanbinh": agency_objects(soc, "tanbinh", "d1")}  # fmt: skip


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if value in ("{alert}", "{incident}"):
        return ids[value.strip("{}")]
    if isinstance(value, str):
        return value.replace("{alert}", str(ids["alert"])).replace("{other}", ids["other"])
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def csrf_of(soc: Soc) -> str:
    page = soc.client.get("/login")  # a console user is sent on to the queue, which has one
    found = re.search(r'name="csrf" (?:value|content)="([^"]+)"', page.text)
    return found.group(1) if found else "no-session"


def call(
    soc: Soc, caller: str, method: str, path: str, case: Case, ids: dict[str, Any], csrf: str
) -> Any:
    headers = dict(case.headers or {})
    if caller.startswith("token:"):
        soc.client.cookies.clear()
        headers["Authorization"] = f"Bearer {soc.tokens[caller.removeprefix('token:')]}"
    values = {"alert_id": ids["alert"], "incident_id": ids["incident"], "ioc_id": ids["ioc"],
              "release_id": 1, "token_id": 1, "stem": ids["stem"], "path": "console.css",
              "name": f"{ids['stem']}.json", "case_id": ids["case"], "task_id": ids["task"],
              "kind": "ip", "value": "203.0.113.50"}  # fmt: skip
    if path.startswith("/docs/"):
        values["name"] = "swagger-ui.css"
    url = path.format(**values)
    form = None
    if case.form is not None:
        form = {**fill(case.form, ids), "csrf": csrf}
    return soc.client.request(
        method, url, params=fill(case.params, ids), json=fill(case.json, ids),
        content=case.content, headers=headers, data=form, files=case.files,
        follow_redirects=False,
    )  # fmt: skip


def assert_nothing_of(other: str, response: Any, where: str) -> None:
    for secret in secrets_of(other):
        assert secret not in response.text, (where, secret)


def test_every_route_and_page_has_a_case(tmp_path: Path) -> None:
    routes = app_routes(create_app(Settings(data_dir=tmp_path)))
    assert routes - set(CASES) == set(), "a new route or page: add its isolation case here"
    assert set(CASES) - routes == set(), "a case for a route that is gone"


def test_no_data_crosses_agencies(soc: Soc) -> None:
    objects = both_agencies(soc)
    for caller, mine, other in CALLERS:
        walk(soc, caller, mine, objects[other])
    for ids in objects.values():
        untouched_by_the_walk(soc, ids)
    the_city_sees_both_agencies_in_full(soc)
    an_agency_auditor_reads_only_its_agency_in_the_audit_log(soc)


def walk(soc: Soc, caller: str, mine: str, ids: dict[str, Any]) -> None:
    """Every route with the other agency's objects, then every alert and incident of mine."""
    other = ids["other"]
    token = caller.startswith("token:")
    if not token:
        assert soc.login(caller) == 303
    csrf = csrf_of(soc)
    for (method, path), case in CASES.items():
        response = call(soc, caller, method, path, case, ids, csrf)
        where = f"{caller} {method} {path}"
        # a machine token has no console session: its forms fail the CSRF check
        expect = case.expect | ({403} if token and case.form is not None else set())
        assert response.status_code in expect, (where, response.status_code, response.text)
        assert_nothing_of(other, response, where)
        if path.startswith("/api/") and response.status_code >= 400:
            assert response.json()["error"]["message"], where
    if not token:
        assert soc.login(caller) == 303
    auth = {"Authorization": f"Bearer {soc.tokens[caller[6:]]}"} if token else {}
    alerts = soc.client.get("/api/v1/alerts", params={"limit": 500}, headers=auth).json()
    incidents = soc.client.get("/api/v1/incidents", headers=auth).json()["items"]
    assert {a["agency"] for a in alerts["items"]} == {mine} and incidents
    sweep = [a for a in alerts["items"] if a["attacker"] == f"ip:{NET[mine]}.66"]
    assert max(a["target_count"] for a in sweep) >= len(OWN_SWEPT), sweep
    views = [f"/api/v1/alerts/{a['id']}" for a in alerts["items"]]
    views += [f"/api/v1/incidents/{i['id']}" for i in incidents]
    cases = soc.client.get("/api/v1/cases", headers=auth)
    case_ids = [c["id"] for c in cases.json()["items"]] if cases.status_code == 200 else []
    views += [f"/api/v1/cases/{c}" for c in case_ids]
    views.append(f"/api/v1/pivot/ip/{NET[mine]}.66")  # its own infected camera's alerts
    if not token:
        views += [f"/cases/{c}" for c in case_ids]
        views.append(f"/pivot/ip/{NET[mine]}.66")
        views += [f"/alerts/{a['id']}" for a in alerts["items"]]
        views += [f"/incidents/{i['id']}" for i in incidents]
    for view in views:
        response = soc.client.get(view, headers=auth)
        assert response.status_code == 200, (caller, view, response.status_code)
        assert_nothing_of(other, response, f"{caller} GET {view}")
    widest = max(sweep, key=lambda a: a["target_count"])["id"]
    detail = soc.client.get(f"/api/v1/alerts/{widest}", headers=auth).json()
    assert detail["evidence_withheld"] >= len(SWEPT)  # the other agency's events, counted
    soc.client.cookies.clear()


def untouched_by_the_walk(soc: Soc, ids: dict[str, Any]) -> None:
    other = ids["other"]
    soc.login("city")
    alert = soc.client.get(f"/api/v1/alerts/{ids['alert']}").json()["alert"]
    assert (alert["status"], alert["assignee"]) == ("new", f"duty-{other}")
    assert f"note-of-{other}" in alert["note"]
    incident = soc.client.get(f"/api/v1/incidents/{ids['incident']}").json()
    assert [n["note"] for n in incident["notes"]] == [f"incident-note-of-{other}"]
    assert soc.client.get(f"/api/v1/iocs/{ids['ioc']}").status_code == 200  # city SOC sees it
    assert (soc.ctx.settings.data_dir / "compliance" / f"{ids['stem']}.json").exists()


def the_city_sees_both_agencies_in_full(soc: Soc) -> None:
    """The cut is for agency callers only: the city SOC reads the sweep's every target."""
    soc.login("city")
    alerts = soc.client.get("/api/v1/alerts", params={"limit": 500}).json()["items"]
    sweep = next(a for a in alerts if a["attacker"] == "ip:10.31.0.66" and a["agency"] == "d1")
    assert {f"ip:10.32.0.{n}" for n in SWEPT} <= set(sweep["targets"])
    detail = soc.client.get(f"/api/v1/alerts/{sweep['id']}").json()
    assert detail["evidence_withheld"] == 0


def an_agency_auditor_reads_only_its_agency_in_the_audit_log(soc: Soc) -> None:
    soc.login("auditor")  # the city's auditor sees the other agency's entries
    city = soc.client.get("/api/v1/audit", params={"limit": 500}).json()
    assert "tanbinh" in {item["agency"] for item in city["items"]}
    soc.client.cookies.clear()
    soc.login("aud-d1")
    mine = soc.client.get("/api/v1/audit", params={"limit": 500}).json()
    assert mine["items"] and {item["agency"] for item in mine["items"]} == {"d1"}
