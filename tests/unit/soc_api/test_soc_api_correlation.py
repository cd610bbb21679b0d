"""Incidents group what one actor did: shared attackers, fingerprints and pivots link alerts;
shared victims never do. Storms fold into one alert per rule, attacker and agency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from citysoc.core.ecs import event_id
from citysoc.core.errors import Location
from collectors.enrich import Enricher
from collectors.sources import syslog
from collectors.stats import CollectorStats
from soc_api.alerts.models import Alert
from soc_api.auth.models import Principal, Role
from soc_api.db import transaction
from soc_api.incidents.grouping import group_alerts, target_views
from soc_api.incidents.service import list_incidents

Soc = Any  # the seeded SOC helper of conftest.py
DAY = timedelta(days=1)


def alert(
    n: int,
    attacker: str | None,
    targets: list[str],
    *,
    tactic: str,
    agency: str = "dc",
    at: str = "02:00",
    fingerprints: list[str] | None = None,
) -> Alert:
    seen = f"2026-11-20T{at}:00.000Z"
    return Alert(
        id=n, rule_id=f"r{n}", rule_name=f"{tactic}_rule_{n}", title=f"rule {n}",
        severity="high", risk_score=73, status="new", agency=agency, segment=agency,
        security_level=3, entity={}, dedup_key=f"k{n}", event_ids=[f"e{n}"], event_count=1,
        first_seen=seen, last_seen=seen, runbook="", tags=[], observables=[],
        attacker=attacker, targets=targets, target_count=len(targets), infrastructure=[],
        fingerprints=fingerprints or [], tactic=tactic,
    )  # fmt: skip


def members(groups: list[Any]) -> set[frozenset[int]]:
    return {frozenset(a.id for a in g.alerts) for g in groups}


def test_two_actors_writing_to_one_plc_stay_two_incidents_and_make_a_target_view() -> None:
    alerts = [
        alert(1, "ip:10.20.0.102", ["ip:10.40.0.5"], tactic="impair_process_control"),
        alert(2, "ip:10.20.0.77", ["ip:10.40.0.5"], tactic="impair_process_control", at="02:30"),
    ]
    groups = group_alerts(alerts, DAY)
    assert members(groups) == {frozenset({1}), frozenset({2})}
    views = target_views(groups)
    assert list(views) == ["ip:10.40.0.5"] and len(views["ip:10.40.0.5"]) == 2


def test_a_victim_that_later_sends_data_out_is_not_joined_to_whoever_reached_it() -> None:
    # a camera's forbidden connection to the warehouse; the warehouse's own upload later
    camera = alert(1, "ip:10.32.0.9", ["ip:10.10.2.5"], tactic="lateral_movement")
    upload = alert(2, "ip:198.51.100.9", ["ip:10.10.2.5"], tactic="exfiltration", at="02:15")
    assert members(group_alerts([camera, upload], DAY)) == {frozenset({1}), frozenset({2})}


def test_one_attacker_across_agencies_is_one_campaign_in_kill_chain_order() -> None:
    ssh = alert(1, "ip:203.0.113.77", ["ip:10.10.1.5"], tactic="credential_access", at="02:10")
    exploit = alert(2, "ip:203.0.113.77", ["ip:10.32.1.15"], tactic="initial_access",
                    agency="tanbinh", at="02:11")  # fmt: skip
    other = alert(3, "ip:203.0.113.50", ["ip:10.31.0.21"], tactic="credential_access", at="02:12")
    groups = group_alerts([ssh, exploit, other], DAY)
    assert members(groups) == {frozenset({1, 2}), frozenset({3})}
    campaign = next(g for g in groups if len(g.alerts) == 2)
    assert campaign.agencies == {"dc", "tanbinh"}
    assert [a.id for a in campaign.ordered()] == [2, 1]  # access before credential access


def test_the_same_attacker_days_apart_is_two_incidents() -> None:
    early = alert(1, "ip:203.0.113.77", ["ip:10.10.1.5"], tactic="discovery", at="02:00")
    late = alert(2, "ip:203.0.113.77", ["ip:10.10.1.5"], tactic="discovery")
    late.first_seen = late.last_seen = "2026-11-23T02:00:00.000Z"
    assert len(group_alerts([early, late], DAY)) == 2


def test_a_pivot_through_a_compromised_camera_joins_the_actor_who_compromised_it() -> None:
    exploit = alert(1, "ip:203.0.113.77", ["ip:10.32.1.15"], tactic="initial_access",
                    agency="tanbinh")  # fmt: skip
    modbus = alert(2, "ip:10.32.1.15", ["ip:10.40.0.5"], tactic="impair_process_control",
                   agency="ioc", at="02:20")  # fmt: skip
    brute = alert(3, "ip:203.0.113.50", ["ip:10.31.0.21"], tactic="credential_access")
    bystander = alert(4, "ip:10.31.0.21", ["ip:10.40.0.5"], tactic="discovery", at="02:30")
    groups = group_alerts([exploit, modbus, brute, bystander], DAY)
    assert members(groups) == {frozenset({1, 2}), frozenset({3}), frozenset({4})}
    pivot = next(g for g in groups if len(g.alerts) == 2)
    assert "pivot:ip:10.32.1.15" in pivot.links


def test_distinctive_fingerprints_link_attackers_and_common_clients_do_not() -> None:
    a = alert(1, "ip:198.51.100.1", ["ip:10.10.0.20"], tactic="initial_access",
              fingerprints=["ja3:e7d705a3286e19ea42f587b344ee6865"])  # fmt: skip
    b = alert(2, "ip:198.51.100.2", ["ip:10.10.0.20"], tactic="initial_access", at="02:05",
              fingerprints=["ja3:e7d705a3286e19ea42f587b344ee6865"])  # fmt: skip
    c = alert(3, "ip:198.51.100.3", ["ip:10.10.0.20"], tactic="initial_access",
              fingerprints=["ua:python-requests/2.31.0"])  # fmt: skip
    d = alert(4, "ip:198.51.100.4", ["ip:10.10.0.20"], tactic="initial_access",
              fingerprints=["ua:python-requests/2.31.0"])  # fmt: skip
    groups = group_alerts([a, b, c, d], DAY)
    assert members(groups) == {frozenset({1, 2}), frozenset({3}), frozenset({4})}


def test_alerts_without_an_attacker_are_incidents_of_their_own() -> None:
    relayed = alert(1, None, ["ip:10.10.1.5"], tactic="exfiltration")
    also = alert(2, None, ["ip:10.10.1.5"], tactic="exfiltration", at="02:01")
    assert members(group_alerts([relayed, also], DAY)) == {frozenset({1}), frozenset({2})}


def telnet(n: int, target: str, agency: str) -> dict[str, object]:
    return {
        "event.id": event_id("storm", target), "@timestamp": f"2026-11-20T02:20:{n % 60:02d}.000Z",
        "event.kind": "event", "event.category": "network", "event.type": "connection",
        "event.action": "network_flow", "event.dataset": "network_traffic.flow",
        "network.transport": "tcp", "source.ip": "10.32.0.66", "destination.ip": target,
        "destination.port": 23, "event.outcome": "failure",
        "citysoc.source.kind": "camera", "citysoc.destination.kind": "camera",
        "citysoc.source.agency": "tanbinh", "citysoc.source.segment": "cam-tanbinh",
        "organization.id": agency, "citysoc.segment": f"cam-{agency}",
    }  # fmt: skip


def test_a_scan_of_80_cameras_is_one_alert_per_rule_with_80_targets(soc: Soc) -> None:
    targets = [f"10.32.{1 + n // 40}.{10 + n % 40}" for n in range(80)]
    soc.ctx.store.write([telnet(n, t, "tanbinh") for n, t in enumerate(targets)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = list(session.scalars(select(Alert).where(Alert.attacker == "ip:10.32.0.66")))
    rules = [a.rule_name for a in found]
    assert len(rules) == len(set(rules)) and "lateral_movement_telnet_from_camera" in rules
    telnet_alert = next(a for a in found if a.rule_name == "lateral_movement_telnet_from_camera")
    assert telnet_alert.target_count == 80 and telnet_alert.event_count == 80
    assert set(telnet_alert.targets) == {f"ip:{t}" for t in targets}
    assert all(a.agency == "tanbinh" for a in found)


OUTSIDER = "198.51.100.23"


def outsider(minute: int, second: int, camera: str, agency: str, status: int) -> dict[str, object]:
    return {
        "event.id": event_id("outsider", camera, minute, second),
        "@timestamp": f"2026-11-20T02:{minute:02d}:{second:02d}.000Z",
        "network.protocol": "rtsp", "rtsp.response.status_code": status,
        "source.ip": OUTSIDER, "destination.ip": camera, "destination.port": 554,
        "citysoc.source.zone": "internet", "citysoc.destination.zone": "internal",
        "organization.id": agency, "citysoc.segment": f"cam-{agency}", "citysoc.security_level": 2,
    }  # fmt: skip


def test_an_actor_seen_in_tan_binh_is_shared_with_district_1_and_hunted_there(soc: Soc) -> None:
    # an earlier visit to a District 1 camera that no rule notices
    soc.ctx.store.write([outsider(0, 5, "10.31.0.30", "d1", 200)])
    assert soc.ctx.scheduler.run_once().created == 0
    # then password guessing on a Tan Binh camera: a rule fires, the actor is shared and hunted
    soc.ctx.store.write([outsider(5, s, "10.32.0.40", "tanbinh", 401) for s in range(0, 12, 2)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = session.scalars(select(Alert).where(Alert.attacker == f"ip:{OUTSIDER}")).all()
        by_agency = {a.agency: a for a in found}
    assert set(by_agency) == {"d1", "tanbinh"}
    assert by_agency["d1"].rule_id.startswith("ioc-")
    assert by_agency["d1"].first_seen == "2026-11-20T02:00:05.000Z"  # the earlier visit
    soc.login("d1")
    iocs = soc.client.get("/api/v1/iocs", params={"limit": 500}).json()["items"]
    warning = next(i for i in iocs if i["value"] == OUTSIDER)
    assert warning["source"] == "early-warning" and warning["tlp"] == "AMBER"
    assert "brute force" in warning["description"].lower()
    incidents = soc.client.get("/api/v1/incidents").json()["items"]
    mine = next(i for i in incidents if i["actor"] == f"ip:{OUTSIDER}")
    assert mine["campaign"] and mine["agencies"] == ["d1"] and mine["other_agencies"] == 1
    detail = soc.client.get(f"/api/v1/incidents/{mine['id']}")
    for secret in ("tanbinh", "10.32.0.40", "Tân Bình"):
        assert secret not in detail.text and secret not in str(warning)
    # the city SOC sees one campaign of one actor across both agencies
    soc.login("city")
    city = soc.client.get(f"/api/v1/incidents/{mine['id']}").json()
    assert city["agencies"] == ["d1", "tanbinh"] and city["actor"] == f"ip:{OUTSIDER}"
    assert OUTSIDER in city["title"]
    # the console: District 1's analyst reads the early warning, not Tan Binh's events
    soc.login("d1")
    iocs_page = soc.client.get("/iocs").text
    assert 'id="early-warnings"' in iocs_page and f'data-warning="{OUTSIDER}"' in iocs_page
    incident_page = soc.client.get(f"/incidents/{mine['id']}").text
    assert (
        OUTSIDER in incident_page
        and 'href="/iocs#early-warnings"' in soc.client.get("/incidents").text
    )
    for secret in ("10.32.0.40", "Tân Bình", "cam-tanbinh"):
        assert secret not in iocs_page and secret not in incident_page
    alert_page = soc.client.get(f"/alerts/{by_agency['d1'].id}").text
    assert "10.32.0.40" not in alert_page and f"ip:{OUTSIDER}" in alert_page
    # the city SOC's campaign page: titled by the actor and its steps, in kill-chain order
    soc.login("city")
    campaign_page = soc.client.get(f"/incidents/{mine['id']}").text
    heading = campaign_page.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert OUTSIDER in heading and "→" in heading
    assert campaign_page.count('data-tactic="') == 2
    # sharing happens once: another run adds no second indicator
    soc.ctx.scheduler.run_once()
    soc.login("d1")
    again = soc.client.get("/api/v1/iocs", params={"limit": 500}).json()["items"]
    assert [i["value"] for i in again].count(OUTSIDER) == 1


def test_the_retro_hunt_finds_the_actors_earlier_visit_where_it_was_seen(soc: Soc) -> None:
    # an earlier look at another Tan Binh camera that no rule notices, then the brute force
    soc.ctx.store.write([outsider(0, 5, "10.32.0.41", "tanbinh", 200)])
    assert soc.ctx.scheduler.run_once().created == 0
    soc.ctx.store.write([outsider(5, s, "10.32.0.40", "tanbinh", 401) for s in range(0, 12, 2)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = session.scalars(
            select(Alert).where(Alert.attacker == f"ip:{OUTSIDER}", Alert.agency == "tanbinh")
        ).all()
        hunted = [a for a in found if a.rule_id.startswith("ioc-")]
        assert len(hunted) == 1 and len(found) == 2
        assert hunted[0].first_seen == hunted[0].last_seen == "2026-11-20T02:00:05.000Z"
        assert hunted[0].targets == ["ip:10.32.0.41"]  # only the earlier visit, nothing twice
        assert len(group_alerts(list(found), DAY)) == 1  # the same actor's incident


def test_a_camera_guessed_at_by_two_actors_is_a_target_view_not_a_campaign(soc: Soc) -> None:
    camera = "10.31.0.44"
    for n, actor in enumerate(("198.51.100.61", "198.51.100.62")):
        soc.ctx.store.write([
            {"event.id": event_id("target", actor, s), "network.protocol": "rtsp",
             "@timestamp": f"2026-11-20T03:{10 + n:02d}:{s:02d}.000Z",
             "rtsp.response.status_code": 401, "source.ip": actor, "destination.ip": camera,
             "organization.id": "d1", "citysoc.segment": "cam-d1", "citysoc.security_level": 2}
            for s in range(0, 12, 2)
        ])  # fmt: skip
    soc.ctx.scheduler.run_once()
    soc.login("d1")
    views = soc.client.get("/api/v1/incidents/targets").json()
    view = next(v for v in views["items"] if v["target"] == f"ip:{camera}")
    assert view["actors"] == ["ip:198.51.100.61", "ip:198.51.100.62"]
    assert len(view["incidents"]) == 2 and view["agencies"] == ["d1"]
    for incident_id in view["incidents"]:
        assert not soc.client.get(f"/api/v1/incidents/{incident_id}").json()["campaign"]
    page = soc.client.get("/incidents").text
    assert f'data-target="ip:{camera}"' in page
    soc.login("tb")  # Tan Binh's analysts see none of District 1's targets
    assert camera not in soc.client.get("/api/v1/incidents/targets").text


def visible_notes(soc: Soc) -> list[str]:
    found = []
    for incident in soc.client.get("/api/v1/incidents").json()["items"]:
        detail = soc.client.get(f"/api/v1/incidents/{incident['id']}").json()
        found += [n["note"] for n in detail["notes"]]
    return found


def test_notes_and_assignments_survive_regrouping_and_stay_with_their_agency(soc: Soc) -> None:
    # the seeded attacker guessed at a District 1 and a Tan Binh camera: one campaign
    soc.login("city")
    campaign = soc.client.get("/api/v1/incidents", params={"campaigns_only": True}).json()
    incident_id = campaign["items"][0]["id"]
    note = {"note": "one actor, both districts", "assignee": "city"}
    city = soc.client.post(f"/api/v1/incidents/{incident_id}/notes", json=note)
    assert city.status_code == 201
    soc.login("tb")
    tb_view = next(i for i in soc.client.get("/api/v1/incidents").json()["items"]
                   if i["actor"] == "ip:203.0.113.50")  # fmt: skip
    tb = soc.client.post(f"/api/v1/incidents/{tb_view['id']}/notes",
                         json={"note": "camera isolated"})  # fmt: skip
    assert tb.status_code == 201
    assert "camera isolated" in soc.client.get(f"/incidents/{tb_view['id']}").text
    empty = soc.client.post(f"/api/v1/incidents/{tb_view['id']}/notes", json={"note": " "})
    assert empty.status_code == 422
    # the Tan Binh alert turns out to be days later: the campaign splits, each note follows
    # the alert it is anchored on, none is dropped
    with transaction(soc.ctx.sessions) as session:
        tb_alert = session.scalars(
            select(Alert).where(Alert.agency == "tanbinh", Alert.attacker == "ip:203.0.113.50")
        ).one()
        tb_alert.first_seen = tb_alert.last_seen = "2026-11-24T02:10:00.000Z"
    with soc.ctx.sessions() as session:
        who = Principal(user_id=0, username="x", role=Role.CITY_ANALYST, agency=None)
        apart = list_incidents(session, who=who, window=DAY)
        mine = [i for i in apart if i.actor == "ip:203.0.113.50"]
        assert len(mine) == 2 and not any(i.campaign for i in mine)
        kept = {i.agencies[0]: [n.note for n in i.notes] for i in mine}
        assert sorted(n for notes in kept.values() for n in notes) == [
            "camera isolated",
            "one actor, both districts",
        ]
        assert kept["tanbinh"] == ["camera isolated"]
    # an agency sees only the notes anchored on its own alerts
    soc.login("tb")
    assert "camera isolated" in visible_notes(soc)
    assert kept["d1"] == ["one actor, both districts"]
    soc.login("d1")
    assert "camera isolated" not in visible_notes(soc)
    soc.login("auditor")
    refused = soc.client.post(f"/api/v1/incidents/{incident_id}/notes", json={"note": "x"})
    assert refused.status_code == 403


CLIENT, RESOLVER, UPSTREAM = "10.10.1.5", "10.50.0.53", "198.51.100.53"  # dc-app-01, SOC's


def dns_query(second: int, source: str, destination: str, soc: Soc) -> dict[str, object]:
    """A query for one chunk of a tunnel, placed in the city as the collectors place it."""
    name = f"{'m' * 44}{second:02d}.t.exfil.example"
    event: dict[str, object] = {
        "event.id": event_id("dns", source, destination, second),
        "@timestamp": f"2026-11-20T04:00:{second:02d}.000Z",
        "event.kind": "event", "event.category": "network", "event.type": "protocol",
        "event.action": "dns_query", "event.dataset": "network_traffic.dns", "dns.type": "query",
        "dns.question.name": name, "network.transport": "udp", "network.protocol": "dns",
        "source.ip": source, "destination.ip": destination, "destination.port": 53,
    }  # fmt: skip
    return Enricher(soc.ctx.topology, "dic")(event)


def test_a_tunnel_seen_at_the_resolver_is_the_asking_clients_in_its_agency(soc: Soc) -> None:
    # the client's queries to the SOC's resolver, then the resolver forwarding them upstream
    soc.ctx.store.write([dns_query(s, CLIENT, RESOLVER, soc) for s in range(0, 40)])
    soc.ctx.store.write([dns_query(s, RESOLVER, UPSTREAM, soc) for s in range(0, 40)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = list(session.scalars(select(Alert).where(Alert.rule_name.like("exfiltration%"))))
    assert {a.rule_name for a in found} >= {
        "exfiltration_dns_long_label_query",
        "exfiltration_dns_tunnel_unique_names",
    }
    # nothing filed under the resolver's agency; every alert is the client's, in one incident
    assert {(a.agency, a.attacker) for a in found} == {("dc", f"ip:{CLIENT}")}
    groups = group_alerts(found, DAY)
    assert len(groups) == 1 and groups[0].attackers == [f"ip:{CLIENT}"]
    # the resolver's forwarded queries folded into the client's own alert of the same rule
    long_label = [a for a in found if a.rule_name == "exfiltration_dns_long_label_query"]
    assert len(long_label) == 1 and long_label[0].event_count == 80


def test_without_the_clients_side_a_resolvers_alert_has_no_attacker(soc: Soc) -> None:
    soc.ctx.store.write([dns_query(s, RESOLVER, UPSTREAM, soc) for s in range(0, 40)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = list(session.scalars(select(Alert).where(Alert.rule_name.like("exfiltration%"))))
    assert [(a.rule_name, a.agency, a.attacker) for a in found] == [
        ("exfiltration_dns_long_label_query", "dic", None)
    ]


def test_a_rule_seeing_the_same_evidence_folds_unless_it_is_more_severe(soc: Soc) -> None:
    # a camera's Telnet sweep: "Telnet from a camera" (high) and "remote-shell sweep" (high)
    # read the same flows; one alert lists both rules
    targets = [f"10.32.3.{10 + n}" for n in range(12)]
    soc.ctx.store.write([telnet(n, t, "tanbinh") for n, t in enumerate(targets)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = list(session.scalars(select(Alert).where(Alert.attacker == "ip:10.32.0.66")))
    assert [(a.rule_name, a.also_rules) for a in found] == [
        ("lateral_movement_telnet_from_camera", ["discovery_camera_remote_shell_sweep"])
    ]
    assert found[0].target_count == 12
    soc.login("tb")
    page = soc.client.get(f"/alerts/{found[0].id}").text
    assert "discovery_camera_remote_shell_sweep" in page and 'id="alert-targets"' in page


def test_a_resolvers_query_log_names_the_client_behind_its_forwards(soc: Soc) -> None:
    # no sensor sees the client's side: the resolver's own query log (BIND) does
    received = datetime(2026, 11, 20, 4, 5, tzinfo=UTC).timestamp()
    enrich = Enricher(soc.ctx.topology, "dic")
    logged = []
    for s in range(0, 40):
        name = f"{'m' * 44}{s:02d}.t.exfil.example"
        line = (f"<30>Nov 20 04:00:{s:02d} soc-resolver-01 named[812]: client @0x7f3a2c0a1b20 "
                f"{CLIENT}#{41000 + s} ({name}): query: {name} IN A + ({RESOLVER})")  # fmt: skip
        logged.append(enrich(syslog.parse_syslog(line, Location("t", line=s + 1),
                                                 CollectorStats(), received=received)))  # fmt: skip
    soc.ctx.store.write(logged)
    soc.ctx.store.write([dns_query(s, RESOLVER, UPSTREAM, soc) for s in range(0, 40)])
    soc.ctx.scheduler.run_once()
    with soc.ctx.sessions() as session:
        found = list(session.scalars(select(Alert).where(Alert.rule_name.like("exfiltration%"))))
    assert {(a.agency, a.attacker) for a in found} == {("dc", f"ip:{CLIENT}")}
    assert len(group_alerts(found, DAY)) == 1
