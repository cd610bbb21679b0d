"""The whole demo path in one process: bundled samples → collectors → store → rules → alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citysoc.cli.demo import feed_samples
from citysoc.core.settings import Settings
from soc_api.alerts.models import Alert
from soc_api.context import build_context
from soc_api.incidents.grouping import group_alerts

pytestmark = pytest.mark.e2e

EXPECTED = {
    ("credential_access_rtsp_brute_force", "d1"),
    ("initial_access_hikvision_cve_2021_36260", "tanbinh"),
    ("lateral_movement_telnet_from_camera", "tanbinh"),
    ("credential_access_ssh_brute_force", "dc"),
    ("initial_access_suricata_exploit_alert", "tanbinh"),
}


def alerts(settings: Settings) -> list[Alert]:
    ctx = build_context(settings)
    try:
        feed_samples(ctx)
        with ctx.sessions() as session:
            return list(session.scalars(select(Alert)))
    finally:
        ctx.close()


def test_demo_data_raises_the_expected_alerts(settings: Settings) -> None:
    found = alerts(settings)
    assert {(a.rule_name, a.agency) for a in found} >= EXPECTED
    brute = next(a for a in found if a.rule_name == "credential_access_rtsp_brute_force")
    assert brute.entity == {"source.ip": "203.0.113.50", "destination.ip": "10.31.0.21"}
    assert brute.event_count == 8 and brute.segment == "cam-d1" and brute.security_level == 2
    telnet = next(a for a in found if a.rule_name == "lateral_movement_telnet_from_camera")
    assert telnet.entity == {"source.ip": "10.32.0.66"} and telnet.target_count == 30
    # the remote-shell sweep rule saw the same flows (and two firewall drops): folded in
    assert telnet.also_rules == ["discovery_camera_remote_shell_sweep"]
    assert telnet.event_count == 32


def test_demo_data_shows_a_cross_agency_campaign(settings: Settings) -> None:
    # the attacker who exploits a Tan Binh camera then guesses SSH passwords in the data centre
    groups = group_alerts(alerts(settings), timedelta(days=1))
    campaign = next(g for g in groups if "ip:203.0.113.77" in g.shared_observables())
    assert campaign.agencies == {"tanbinh", "dc"}
    assert campaign.attackers == ["ip:203.0.113.77"]  # one actor, not everyone it touched
    # a Tan Binh camera sweeping District 1 cameras is the other agencies' business too
    others = {g.attackers[0]: g.agencies for g in groups if len(g.agencies) > 1 and g != campaign}
    assert others == {"ip:10.32.0.66": {"tanbinh", "d1"}, "ip:10.20.0.102": {"ioc", "drainage"}}


def test_feeding_twice_duplicates_nothing(settings: Settings) -> None:
    first = alerts(settings)
    second = alerts(settings)
    assert [(a.id, a.event_count) for a in second] == [(a.id, a.event_count) for a in first]
