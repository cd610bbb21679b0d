"""The overview: its numbers within the caller's rights, its time buckets, its charts' links
to the filtered queue (each mark counts what its link lists), the API route and the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from citysoc.core.ecs import event_id
from soc_api.alerts.models import Alert
from soc_api.auth.models import Principal, Role
from soc_api.db import transaction
from soc_api.overview.charts import bar_rows, city_map, nice_ceiling, queue_link, timeline_chart
from soc_api.overview.models import Overview, Period
from soc_api.overview.service import bucket_width, floor_moment, overview
from tests.unit.soc_api.conftest import Soc

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CITY = Principal(1, "city", Role.CITY_ANALYST, None)
D1 = Principal(2, "d1", Role.AGENCY_ANALYST, "d1")


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert(n: int, *, agency: str, segment: str, severity: str, rule: str, hours_ago: float,
          attacker: str | None = None, status: str = "new") -> Alert:  # fmt: skip
    seen = stamp(NOW - timedelta(hours=hours_ago))
    return Alert(
        rule_id=f"id-{rule}", rule_name=rule, title=f"{rule} title", severity=severity,
        risk_score=50, status=status, agency=agency, segment=segment, security_level=2,
        entity={"source.ip": "203.0.113.9"}, dedup_key=f"k{n}", event_ids=[event_id("e", n)],
        event_count=1, first_seen=seen, last_seen=seen, attacker=attacker,
    )  # fmt: skip


def fresh_alerts() -> list[Alert]:
    return [
        alert(1, agency="d1", segment="cam-d1", severity="critical", rule="rule_a", hours_ago=1,
              attacker="ip:203.0.113.9"),
        alert(2, agency="d1", segment="cam-d1", severity="high", rule="rule_a", hours_ago=2,
              attacker="ip:203.0.113.9"),
        alert(3, agency="d1", segment="cam-d1", severity="high", rule="rule_b", hours_ago=3,
              status="closed"),
        alert(4, agency="tanbinh", segment="cam-tanbinh", severity="medium", rule="rule_a",
              hours_ago=5, attacker="ip:203.0.113.9"),
        alert(5, agency="tanbinh", segment="cam-tanbinh", severity="low", rule="rule_c",
              hours_ago=30, attacker="ip:198.51.100.4"),
        alert(6, agency="dc", segment="outside", severity="high", rule="rule_c", hours_ago=200),
    ]  # fmt: skip


ALERTS = fresh_alerts()


@pytest.fixture
def seeded(soc: Soc) -> Iterator[Soc]:
    with transaction(soc.ctx.sessions) as session:
        session.query(Alert).delete()
        session.add_all(fresh_alerts())
    yield soc


def numbers(soc: Soc, who: Principal, period: Period) -> Overview:
    with soc.ctx.sessions() as session:
        return overview(session, who=who, topology=soc.ctx.topology, period=period, now=NOW)


def test_city_wide_numbers_in_the_last_day(seeded: Soc) -> None:
    found = numbers(seeded, CITY, Period.DAY)
    assert found.total == 4  # 30 and 200 hours ago are outside
    assert found.open_total == 5  # open now, whenever first seen
    assert [(a.agency, a.count) for a in found.by_agency] == [("d1", 3), ("tanbinh", 1)]
    assert found.other_agencies is None and found.open_elsewhere is None
    assert [(r.rule, r.count, r.severity) for r in found.top_rules] == [
        ("rule_a", 3, "critical"), ("rule_b", 1, "high")]  # fmt: skip
    assert [(e.entity, e.count, e.agencies) for e in found.top_entities] == [
        ("ip:203.0.113.9", 3, 2)]  # fmt: skip
    assert found.bucket_seconds == 3600
    assert sum(b.total for b in found.timeline) == found.total
    starts = [b.start for b in found.timeline]
    assert starts == sorted(starts) and len(starts) == 25
    assert all(a.end == b.start for a, b in zip(found.timeline, found.timeline[1:], strict=False))


def test_the_map_counts_open_alerts_per_segment(seeded: Soc) -> None:
    segments = {s.segment: s for s in numbers(seeded, CITY, Period.DAY).segments}
    assert (segments["cam-d1"].open_alerts, segments["cam-d1"].worst_severity) == (2, "critical")
    assert (segments["cam-tanbinh"].open_alerts, segments["cam-tanbinh"].worst_severity) == (
        2, "medium")  # fmt: skip
    assert segments["dc-dmz"].open_alerts == 0 and segments["dc-dmz"].worst_severity is None
    assert segments["outside"].kind == "unplaced" and segments["outside"].open_alerts == 1
    topology = {s.id for s in seeded.ctx.topology.model.segments}
    assert topology <= set(segments)


def test_an_agency_analyst_sees_theirs_and_only_totals_of_others(seeded: Soc) -> None:
    found = numbers(seeded, D1, Period.DAY)
    assert found.total == 3 and found.open_total == 2
    assert [a.agency for a in found.by_agency] == ["d1"]
    assert found.other_agencies == 1  # tanbinh's alert 5 hours ago
    assert found.open_elsewhere == 3  # tanbinh x2, dc x1
    assert [e.agencies for e in found.top_entities] == [1]
    assert {r.rule for r in found.top_rules} == {"rule_a", "rule_b"}
    visible = [s for s in found.segments if s.visible]
    assert [s.segment for s in visible] == ["cam-d1"]
    hidden = [s for s in found.segments if not s.visible]
    assert hidden and all(
        (s.segment, s.name, s.agency, s.open_alerts) == (None,) * 4 for s in hidden
    )
    assert numbers(seeded, D1, Period.ALL).other_agencies == 3  # all time, not d1's span


def test_all_time_spans_the_callers_alerts(seeded: Soc) -> None:
    found = numbers(seeded, CITY, Period.ALL)
    assert found.total == len(ALERTS)
    assert found.since is not None and found.since <= stamp(NOW - timedelta(hours=200))
    assert found.until > stamp(NOW - timedelta(hours=1))
    assert len(found.timeline) <= 61 and sum(b.total for b in found.timeline) == len(ALERTS)


def test_bucket_widths_and_weeks_from_monday() -> None:
    assert bucket_width(timedelta(minutes=8)) == 60
    assert bucket_width(timedelta(hours=24)) == 3600
    assert bucket_width(timedelta(days=30)) == 86400
    assert bucket_width(timedelta(days=3000)) == 7 * 86400  # the widest there is
    sunday = datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
    assert floor_moment(sunday, 7 * 86400) == datetime(2026, 11, 16, tzinfo=UTC)
    assert floor_moment(sunday, 3600) == datetime(2026, 11, 22, 18, tzinfo=UTC)
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 51)] == [1, 1, 5, 10, 20, 100]


def test_chart_geometry_stays_inside_the_drawing(seeded: Soc) -> None:
    found = numbers(seeded, CITY, Period.DAY)
    chart = timeline_chart(found.timeline, found.bucket_seconds, width=360, height=220, labels=4)
    left, top, right, bottom = chart.plot
    for column in chart.columns:
        assert left <= column.x and column.x + column.width <= right
        assert sum(p.height for p in column.parts) <= bottom - top + 0.1
    assert sum(1 for c in chart.columns if c.label) <= 4
    rows, height = bar_rows([("x" * 80, 3, None, None), ("y", 1, "/alerts", "low")])
    assert rows[0].label.endswith("…") and rows[0].full == "x" * 80 and height == 88
    assert rows[1].width < rows[0].width <= 360
    for columns, width in ((2, 360), (3, 960)):
        drawn = city_map(found.segments, columns=columns, width=width)
        for block in drawn.blocks:
            for tile in block.tiles:
                assert tile.x >= 0 and tile.x + tile.width <= width
                assert tile.y + tile.height <= drawn.height
    assert queue_link(segment="cam-d1", since=None) == "/alerts?segment=cam-d1"


def test_the_api_route_is_documented_and_keeps_rights(seeded: Soc) -> None:
    client = seeded.client
    schema = client.get("/openapi.json").json()
    assert "/api/v1/overview" in schema["paths"]
    assert schema["paths"]["/api/v1/overview"]["get"]["tags"] == ["overview"]
    client.cookies.clear()
    assert client.get("/api/v1/overview").status_code == 401
    bearer = {"Authorization": f"Bearer {seeded.tokens['read-d1']}"}
    answer = client.get("/api/v1/overview", params={"period": "all"}, headers=bearer)
    assert answer.status_code == 200
    body = answer.json()
    assert [a["agency"] for a in body["by_agency"]] == ["d1"] and body["other_agencies"] == 3
    assert (
        client.get("/api/v1/overview", params={"period": "1y"}, headers=bearer).status_code == 422
    )
    seeded.login("ops")
    assert seeded.client.get("/api/v1/overview").status_code == 403


def marks(page: str) -> list[tuple[str, int]]:
    """(link, count) of every chart mark that says how many alerts it stands for."""
    found = re.findall(r'<a href="(/alerts\?[^"]+)" aria-label="[^"]*?: (\d+)"', page)
    return [(unescape(href), int(count)) for href, count in found]


def test_every_chart_mark_links_to_a_queue_listing_its_count(seeded: Soc) -> None:
    assert seeded.login("city") == 303
    page = seeded.client.get("/overview", params={"period": "all"}).text
    assert page.count("<svg") >= 6 and "<table" in page
    links = marks(page)
    assert len(links) >= 10
    for href, count in links:
        query = href.split("?", 1)[1]
        listed = seeded.client.get(f"/api/v1/alerts?{query}").json()
        if "segment=" in query:  # the map counts open alerts
            listed = {"total": sum(1 for a in listed["items"] if a["status"] != "closed")}
        assert listed["total"] == count, href
        assert seeded.client.get(href).status_code == 200


def test_the_page_is_the_landing_page_in_both_languages(seeded: Soc) -> None:
    client = seeded.client
    client.cookies.clear()
    assert client.get("/overview", follow_redirects=False).headers["location"] == "/login"
    assert seeded.login("d1") == 303
    assert client.get("/", follow_redirects=False).headers["location"] == "/overview"
    page = client.get("/overview").text
    assert '<html lang="vi">' in page and "Tổng quan" in page
    assert 'data-segment="cam-tanbinh"' not in page and "tanbinh" not in page
    client.cookies.set("citysoc_lang", "en")
    assert "City map: open alerts by segment" in client.get("/overview").text
    seeded.login("ops")
    assert client.get("/overview", follow_redirects=False).headers["location"] == "/rules"


def test_a_soc_without_alerts_shows_an_empty_overview(soc: Soc) -> None:
    with transaction(soc.ctx.sessions) as session:
        session.query(Alert).delete()
    found = numbers(soc, CITY, Period.ALL)
    assert (found.total, found.since, found.timeline, found.latest) == (0, None, [], None)
    assert all(s.open_alerts == 0 for s in found.segments)
    assert soc.login("city") == 303
    soc.client.cookies.set("citysoc_lang", "en")
    for period in Period:
        page = soc.client.get("/overview", params={"period": period.value})
        assert page.status_code == 200 and "No alerts in this period." in page.text


def test_an_old_alert_outside_the_period_is_pointed_to(seeded: Soc) -> None:
    with transaction(seeded.ctx.sessions) as session:
        session.query(Alert).filter(Alert.first_seen > stamp(NOW - timedelta(hours=100))).delete()
    assert seeded.login("city") == 303
    page = seeded.client.get("/overview", params={"period": "24h"}).text
    assert 'id="overview-latest"' in page and 'href="/overview?period=all"' in page
