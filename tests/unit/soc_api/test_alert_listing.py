"""The alert list read as plain columns answers what the ORM rows validated answered."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from soc_api.alerts.models import AlertFilter, AlertPublic, AlertStatus, Severity, SortKey
from soc_api.alerts.queries import get_alert, list_alerts, list_public_alerts, public_of
from soc_api.auth.models import Principal, Role
from soc_api.db import json_loads

Soc = Any  # the seeded SOC helper of conftest.py
CITY = Principal(1, "city", Role.CITY_ANALYST, None)
D1 = Principal(2, "d1", Role.AGENCY_ANALYST, "d1")
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
