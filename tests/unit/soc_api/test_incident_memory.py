"""What incidents read, and the incident cache keeps: alerts without their event ids, which
incidents never use and which a storm's alerts hold by the thousand."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import InvalidRequestError

from soc_api.incidents.service import _candidates

Soc = Any  # the seeded SOC helper of conftest.py


def test_incidents_read_alerts_without_their_event_ids(soc: Soc) -> None:
    with soc.ctx.sessions() as session:
        alerts = _candidates(session)
        assert alerts and all("event_ids" not in alert.__dict__ for alert in alerts)
        assert all(alert.attacker or alert.entity for alert in alerts)  # what grouping reads
        with pytest.raises(InvalidRequestError):  # a use would be found at once, not loaded
            _ = alerts[0].event_ids
    headers = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    page = soc.client.get("/api/v1/incidents", headers=headers).json()
    assert page["items"] and page["items"][0]["alert_count"] >= 1
    one = soc.client.get(f"/api/v1/incidents/{page['items'][0]['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["alerts"]
