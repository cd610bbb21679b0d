"""The alert list read as plain columns answers what the ORM rows validated answered."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from soc_api.alerts.models import (
    AlertFilter,
    AlertPage,
    AlertPublic,
    AlertStatus,
    Severity,
    SortKey,
)
from soc_api.alerts.queries import get_alert, list_alerts, list_public_alerts, public_of
from soc_api.alerts.visibility import visible_alerts
from soc_api.auth.models import Principal, Role
from soc_api.db import json_loads, transaction
from tests.unit.soc_api.test_alert_search import alert

Soc = Any  # the seeded SOC helper of conftest.py
CITY = Principal(1, "city", Role.CITY_ANALYST, None)
D1 = Principal(2, "d1", Role.AGENCY_ANALYST, "d1")
TB = Principal(3, "tb", Role.AGENCY_ANALYST, "tanbinh")
FILTERS = [
    AlertFilter(),
    *(AlertFilter(sort=sort) for sort in SortKey),
    AlertFilter(status=AlertStatus.NEW, severity=Severity.HIGH),
    AlertFilter(agency="tanbinh"),
    AlertFilter(q="203.0.113.50"),
]


@pytest.mark.parametrize("who", [CITY, D1], ids=["city", "d1"])
def test_the_same_page_as_the_orm_rows(soc: Soc, who: Principal) -> None:
    with soc.ctx.sessions() as session:
        for filters in FILTERS:
            for limit, offset in ((50, 0), (1, 1)):
                total, rows = list_alerts(
                    session, who=who, filters=filters, limit=limit, offset=offset
                )
                expected = [AlertPublic.model_validate(r).model_dump(mode="json") for r in rows]
                got_total, page = list_public_alerts(
                    session, who=who, filters=filters, limit=limit, offset=offset
                )
                assert got_total == total
                assert [a.model_dump(mode="json") for a in page] == expected
        assert total  # the seeded alerts were listed, not two empty pages compared


def test_one_alert_as_validated(soc: Soc) -> None:
    with soc.ctx.sessions() as session:
        _, rows = list_alerts(session, who=CITY)
        assert rows
        for row in rows:
            alert = get_alert(session, alert_id=row.id, who=CITY)
            assert public_of(alert) == AlertPublic.model_validate(alert)
            assert public_of(alert).model_dump_json() == (
                AlertPublic.model_validate(alert).model_dump_json()
            )


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, "x", null, true], "b": {"c": "\\u00e9"}}',
        "[]",
        "NaN",
        "-Infinity",
        '"\\ud800"',
        "123456789012345678901234",
        "-9223372036854775809",
        "18446744073709551615",
        "-0",
        "1e400",
        "5e-324",
        "0.1",
        '{"a": 1, "a": 2}',
        '["10.20.0.27", 1234567890123456789012]',
    ],
)
def test_json_columns_read_as_the_standard_library_reads_them(text: str) -> None:
    for given in (text, text.encode()):  # SQLite gives text, psycopg bytes
        got, expected = json_loads(given), json.loads(given)
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got)
        else:
            assert repr(got) == repr(expected)


def test_the_answer_is_the_page_the_models_give(soc: Soc) -> None:
    """``GET /api/v1/alerts`` answers plain values: byte for byte what the models of the same
    page serialise to, for a city-wide token and for an agency's, whose copy of an alert that
    names another agency's hosts is cut (the attacker stays)."""
    sweep = alert(
        "lateral_movement_telnet_from_camera",
        agency="tanbinh",
        attacker="ip:10.32.0.21",
        targets=["ip:10.31.0.22", "ip:10.32.0.23", "host:dc-web-01"],
        observables=["ip:10.32.0.21", "ip:10.31.0.22", "ip:10.32.0.23"],
        infrastructure=["ip:10.32.0.9"],
        entity={"source.ip": "10.32.0.21", "destination.ip": ["10.31.0.22", "10.32.0.23"]},
        risk_score=99,
        note="Sóc Trăng: đã chặn",
    )
    with transaction(soc.ctx.sessions) as session:
        session.add(sweep)
    for token, who in (("read-city", CITY), ("read-tb", TB)):
        headers = {"Authorization": f"Bearer {soc.tokens[token]}"}
        for params in ({}, {"sort": "newest", "limit": "1", "offset": "1"}, {"q": "telnet"}):
            answer = soc.client.get("/api/v1/alerts", params=params, headers=headers)
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/json"
            filters = AlertFilter.model_validate(params)
            limit, offset = int(params.get("limit", 50)), int(params.get("offset", 0))
            with soc.ctx.sessions() as session:
                total, rows = list_alerts(
                    session, who=who, filters=filters, limit=limit, offset=offset
                )
            items = visible_alerts(rows, who=who, topology=soc.ctx.topology)
            page = AlertPage(total=total, limit=limit, offset=offset, items=items)
            assert answer.content == page.model_dump_json().encode()
            assert AlertPage.model_validate_json(answer.content) == page
    cut = soc.client.get(
        "/api/v1/alerts",
        params={"q": "telnet"},
        headers={"Authorization": f"Bearer {soc.tokens['read-tb']}"},
    ).json()["items"][0]
    assert cut["targets"] == ["ip:10.32.0.23", "host:dc-web-01"]  # District 1's camera cut
    assert cut["observables"] == ["ip:10.32.0.21", "ip:10.32.0.23"]
    assert cut["entity"] == {"source.ip": "10.32.0.21", "destination.ip": ["10.32.0.23"]}
