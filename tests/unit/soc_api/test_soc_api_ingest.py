"""The collectors' contract: POST /api/v1/ingest with NDJSON and an ingest token."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from citysoc.core.settings import Settings
from soc_api.app import create_app

Soc = Any  # the seeded SOC helper of conftest.py


def ndjson(*lines: object) -> bytes:
    return b"\n".join(
        line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines
    )


def auth(soc: Soc, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {soc.tokens[name]}"}


def camera_login_failure(second: int) -> dict[str, object]:
    return {"@timestamp": f"2026-11-21T05:00:{second:02d}Z", "network.protocol": "rtsp",
            "rtsp.response.status_code": 401, "source.ip": "198.51.100.9",
            "destination.ip": "10.31.0.21"}  # fmt: skip


def test_good_lines_stored_bad_lines_counted_by_number(soc: Soc) -> None:
    body = ndjson(camera_login_failure(0), b"{not json", ["a list"], {"no": "timestamp"},
                  camera_login_failure(2))  # fmt: skip
    response = soc.client.post("/api/v1/ingest", content=body, headers=auth(soc, "ingest-any"))
    assert response.status_code == 200
    report = response.json()
    assert (report["stored"], report["duplicates"], report["rejected"]) == (2, 0, 3)
    assert [e["line"] for e in report["errors"]] == [2, 3, 4]
    again = soc.client.post("/api/v1/ingest", content=body, headers=auth(soc, "ingest-any"))
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
    stored = soc.ctx.store.recent(limit=1)[0]
    assert stored["organization.id"] == "d1" and stored["citysoc.destination.segment"]


def test_ingested_events_raise_alerts(soc: Soc) -> None:
    body = ndjson(*(camera_login_failure(s) for s in range(0, 16, 2)))
    assert soc.client.post("/api/v1/ingest", content=body,
                           headers=auth(soc, "ingest-d1")).json()["stored"] == 8  # fmt: skip
    soc.ctx.scheduler.run_once()
    soc.login("d1")
    alerts = soc.client.get("/api/v1/alerts").json()["items"]
    assert any(a["entity"].get("source.ip") == "198.51.100.9" for a in alerts)


def test_agency_token_writes_only_its_agency(soc: Soc) -> None:
    tanbinh_event = {**camera_login_failure(0), "destination.ip": "10.32.0.21"}
    response = soc.client.post("/api/v1/ingest", content=ndjson(tanbinh_event),
                               headers=auth(soc, "ingest-d1"))  # fmt: skip
    report = response.json()
    assert (report["stored"], report["rejected"]) == (0, 1)
    assert "tanbinh" in report["errors"][0]["message"] and report["errors"][0]["line"] == 1


def test_no_token_bad_token_wrong_scope(soc: Soc) -> None:
    body = ndjson(camera_login_failure(0))
    assert soc.client.post("/api/v1/ingest", content=body).status_code == 401
    bad = {"Authorization": "Bearer cst_000000000000_nope"}
    response = soc.client.post("/api/v1/ingest", content=body, headers=bad)
    assert response.status_code == 401 and response.json()["error"]["message"]
    assert soc.client.post("/api/v1/ingest", content=body,
                           headers=auth(soc, "read-d1")).status_code == 403  # fmt: skip


def test_oversized_body_is_413(settings: Settings, soc: Soc) -> None:
    big = b"x" * (settings.ingest_max_bytes + 1)
    response = soc.client.post("/api/v1/ingest", content=big, headers=auth(soc, "ingest-any"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PayloadTooLargeError"


def test_rate_limit_is_429_with_retry_after(settings: Settings, soc: Soc) -> None:
    slow = settings.model_copy(update={"ingest_rate_per_second": 1.0})
    with TestClient(create_app(slow)) as client:
        headers = auth(soc, "ingest-any")
        codes = [client.post("/api/v1/ingest", content=b"", headers=headers) for _ in range(8)]
    assert codes[0].status_code == 200
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert "too many" in limited[0].json()["error"]["message"]


def test_a_lone_surrogate_rejects_its_line_and_keeps_the_batch(soc: Soc) -> None:
    bad = json.dumps(camera_login_failure(1))[:-1].encode() + b', "user.name": "\\ud800"}'
    nested = b'{"@timestamp": "2026-11-21T05:00:03Z", "x": {"y": ["ok", "\\udfff"]}}'
    body = ndjson(camera_login_failure(0), bad, nested, camera_login_failure(2))
    response = soc.client.post("/api/v1/ingest", content=body, headers=auth(soc, "ingest-any"))
    assert response.status_code == 200  # was 500, and the whole batch lost
    report = response.json()
    assert (report["stored"], report["rejected"]) == (2, 2)
    assert [(e["line"], "surrogate" in e["message"]) for e in report["errors"]] == [
        (2, True),
        (3, True),
    ]
    assert "user.name" in report["errors"][0]["message"]


def test_events_of_agencies_or_segments_the_city_lacks_are_refused(soc: Soc) -> None:
    foreign = {**camera_login_failure(0), "organization.id": "nowhere", "citysoc.segment": "x"}
    odd_segment = {**camera_login_failure(1), "organization.id": "d1", "citysoc.segment": "x"}
    listed = {**camera_login_failure(2), "organization.id": ["d1"], "citysoc.segment": ["x"]}
    body = ndjson(foreign, odd_segment, listed, camera_login_failure(3))
    report = soc.client.post("/api/v1/ingest", content=body, headers=auth(soc, "ingest-any")).json()
    assert (report["stored"], report["rejected"]) == (1, 3)
    messages = [e["message"] for e in report["errors"]]
    assert "not an agency" in messages[0] and "not a segment" in messages[1]


def test_too_many_fields_reject_the_line(soc: Soc) -> None:
    wide = {**camera_login_failure(0), **{f"f{n}": n for n in range(2000)}}
    report = soc.client.post(
        "/api/v1/ingest", content=ndjson(wide, camera_login_failure(1)),
        headers=auth(soc, "ingest-any"),
    ).json()  # fmt: skip
    assert (report["stored"], report["rejected"]) == (1, 1)
    assert "fields" in report["errors"][0]["message"]


def test_a_number_longer_than_python_converts_rejects_its_line_only(soc: Soc) -> None:
    body = ndjson(camera_login_failure(0), b'{"n": ' + b"1" * 5000 + b"}")
    response = soc.client.post("/api/v1/ingest", content=body, headers=auth(soc, "ingest-any"))
    assert response.status_code == 200  # was a 500 for the whole batch
    report = response.json()
    assert (report["stored"], report["rejected"]) == (1, 1)
    assert "usable JSON" in report["errors"][0]["message"]
