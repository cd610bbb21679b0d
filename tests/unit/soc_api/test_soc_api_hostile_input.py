"""Hostile bodies to the SOC API: a clear 4xx or a per-item report, never a 500."""

from __future__ import annotations

import json
from typing import Any

Soc = Any  # the seeded SOC helper of conftest.py
CSV = {"content-type": "text/csv"}


def test_a_csv_header_the_csv_module_refuses_is_a_422(soc: Soc) -> None:
    soc.login("tb")
    response = soc.client.post("/api/v1/iocs/import", content=b"kind,val\rue\n", headers=CSV)
    assert response.status_code == 422  # was 500: csv.Error on the header
    assert "CSV header" in response.json()["error"]["message"]


def test_a_bad_csv_row_is_reported_and_the_others_imported(soc: Soc) -> None:
    soc.login("tb")
    body = b"kind,value\nip,203.0.113.61\nip,203.0.113.62\rx\nip,203.0.113.63\n"
    response = soc.client.post("/api/v1/iocs/import", content=body, headers=CSV)
    assert response.status_code == 200
    report = response.json()
    assert (report["created"], report["rejected"]) == (2, 1)
    assert report["errors"][0]["item"] == 3 and "CSV line 3" in report["errors"][0]["message"]


def test_deeply_nested_stix_is_a_422(soc: Soc) -> None:
    soc.login("tb")
    body = b'{"type": "bundle", "objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = soc.client.post(
        "/api/v1/iocs/import", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_a_stix_bundle_of_strange_objects_is_reported_not_fatal(soc: Soc) -> None:
    soc.login("tb")
    bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
              "objects": [{"type": "indicator", "pattern": "\ud800"}, 1, None]}  # fmt: skip
    response = soc.client.post(
        "/api/v1/iocs/import", content=json.dumps(bundle),
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code in (200, 422)


def test_get_on_a_post_only_path_is_405_with_allow(soc: Soc) -> None:
    soc.login("city")
    for path in ("/api/v1/iocs/import", "/api/v1/alerts/bulk"):
        response = soc.client.get(path)
        assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_ids_of_thousands_of_digits_are_404_not_500(soc: Soc) -> None:
    soc.login("city")
    for kind in ("alerts", "iocs", "incidents"):
        assert soc.client.get(f"/api/v1/{kind}/" + "1" * 5000).status_code == 404
        assert soc.client.get(f"/api/v1/{kind}/{2**53 + 1}").status_code == 422


def test_assigning_reveals_nothing_about_other_users(soc: Soc) -> None:
    alert = soc.alert_of("tanbinh")
    soc.login("tb")
    answers = {}
    for name in ("d1", "no-such-user", "auditor"):
        response = soc.client.patch(f"/api/v1/alerts/{alert}", json={"assignee": name})
        assert response.status_code == 422
        answers[name] = response.json()["error"]["message"].replace(repr(name), "NAME")
    assert len(set(answers.values())) == 1 and "d1'" not in answers["d1"]


def test_a_csv_of_bad_rows_stops_after_a_bounded_number(soc: Soc) -> None:
    soc.login("tb")
    body = b"kind,value\n" + b"alue\n" * 5000 + b"ip,203.0.113.64\n"
    report = soc.client.post("/api/v1/iocs/import", content=body, headers=CSV).json()
    assert report["created"] == 0 and report["rejected"] == 201
    assert "the import stopped here" in report["errors"][-1]["message"]


def test_json_numbers_longer_than_python_converts_are_refused_not_500(soc: Soc) -> None:
    soc.login("tb")
    huge = b"1" * 5000
    stix = soc.client.post(
        "/api/v1/iocs/import", content=b'{"type": "bundle", "n": ' + huge + b"}",
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert stix.status_code == 422 and "usable JSON" in stix.json()["error"]["message"]
