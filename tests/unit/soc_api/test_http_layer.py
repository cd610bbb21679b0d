"""Every response carries the security headers; every request is counted by route and status."""

from __future__ import annotations

from typing import Any

from soc_api.http_layer import SECURITY_HEADERS

Soc = Any  # the seeded SOC helper of conftest.py


def test_security_headers_on_api_console_static_and_errors(soc: Soc) -> None:
    city = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    replies = [
        soc.client.get("/api/v1/alerts", headers=city),
        soc.client.get("/login"),
        soc.client.get("/static/console.css"),
        soc.client.get("/api/v1/alerts"),  # 401
        soc.client.get("/api/v1/alerts/999999", headers=city),  # 404
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 401, 404]
    for reply in replies:
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers.get_list(name) == [value], (reply.url, name)


def test_requests_are_counted_by_route_template_and_status(soc: Soc) -> None:
    city = {"Authorization": f"Bearer {soc.tokens['read-city']}"}
    alert = soc.alert_of("d1")
    for _ in range(3):
        assert soc.client.get(f"/api/v1/alerts/{alert}", headers=city).status_code == 200
    assert soc.client.get("/api/v1/alerts/999999", headers=city).status_code == 404
    scraped = soc.client.get("/metrics", headers=city).text
    route = 'route="/api/v1/alerts/{alert_id:id}"'
    assert f'citysoc_http_requests_total{{method="GET",{route},status="200"}} 3.0' in scraped
    assert f'citysoc_http_requests_total{{method="GET",{route},status="404"}} 1.0' in scraped
    assert f"citysoc_http_request_seconds_count{{{route}}} 4.0" in scraped
