"""Cases and the notification outbox on a real PostgreSQL: a shared case worked by the city
and an agency, the unique alert link refusing a second case, the audit chain intact, and a
failed delivery recorded for its retry.

Needs root and Debian's ``postgresql`` (as the SOC state test beside it, whose throwaway
database fixture it uses).
"""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from citysoc.core.settings import Settings, WebhookTarget
from soc_api.app import create_app
from tests.integration.soc_api.test_soc_api_postgres import (  # noqa: F401 - fixture, marker
    login,
    pg_url,
    pytestmark,
    seed,
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cases_and_notifications_on_postgresql(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    dead = WebhookTarget(
        url=f"http://127.0.0.1:{closed_port()}/hook",
        secret=SecretStr("a webhook secret of some length"),
    )
    settings = Settings(
        data_dir=tmp_path / "var",
        state_url=pg_url,
        detection_interval_seconds=3600,
        notify_interval_seconds=3600,
        notify_alert_severity="informational",
        notify_webhooks=(dead,),
    )
    with TestClient(create_app(settings, startup=(seed,))) as client:
        login(client, "city")
        incident = client.get("/api/v1/incidents").json()["items"][0]["id"]
        opened = client.post("/api/v1/cases", json={"incident_id": incident})
        assert opened.status_code == 201, opened.text
        case = opened.json()["id"]
        assert client.post("/api/v1/cases", json={"incident_id": incident}).status_code == 409
        task = client.post(f"/api/v1/cases/{case}/tasks", json={"title": "t", "agency": "tanbinh"})
        assert task.status_code == 201
        patch = client.patch(f"/api/v1/cases/{case}", json={"status": "contained", "owner": "city"})
        assert patch.json()["status"] == "contained"
        login(client, "d1")
        assert client.post(f"/api/v1/cases/{case}/comments", json={"body": "ok"}).status_code == 201
        seen = client.get(f"/api/v1/cases/{case}").json()
        assert seen["agencies"] == ["d1"] and seen["other_tasks"] == 1 and seen["tasks"] == []
        login(client, "auditor")
        assert client.get("/api/v1/audit/verify").json()["intact"] is True
        outcome = client.app.state.notifier.run_once()  # type: ignore[attr-defined]
        # two alerts and seven case steps to a closed port: one attempt, the rest wait
        assert outcome == {"retry": 1, "deferred": 8}
        login(client, "city")
        page = client.get("/api/v1/notifications").json()
        assert page["pending"] == 9 and sum(n["attempts"] for n in page["items"]) == 1
