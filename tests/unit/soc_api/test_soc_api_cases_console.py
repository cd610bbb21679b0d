"""The console's case pages: opened from an incident's page with its CSRF form, worked with
the case page's forms, each agency shown its part, and the notifications page."""

from __future__ import annotations

import re
from typing import Any

Soc = Any  # the seeded SOC helper of conftest.py


def english(soc: Soc, path: str) -> str:
    soc.client.cookies.set("citysoc_lang", "en")
    try:
        return str(soc.client.get(path).text)
    finally:
        soc.client.cookies.delete("citysoc_lang")


def test_open_and_work_a_case_from_the_console(soc: Soc) -> None:
    soc.login("city")
    incident = soc.client.get("/api/v1/incidents").json()["items"][0]["id"]
    page = soc.client.get(f"/incidents/{incident}")
    assert 'id="open-case-form"' in page.text
    csrf = soc.csrf()
    forged = soc.client.post("/cases", data={"csrf": "forged", "incident_id": incident})
    assert forged.status_code == 403
    opened = soc.client.post(
        "/cases", data={"csrf": csrf, "incident_id": incident}, follow_redirects=False
    )
    assert opened.status_code == 303
    url = opened.headers["location"]
    case = int(url.rsplit("/", 1)[1])
    assert f'href="/cases/{case}"' in soc.client.get(f"/incidents/{incident}").text
    for path, form in (
        ("tasks", {"title": "Block 203.0.113.50 at the edge"}),
        ("tasks", {"title": "Reset the camera's password", "agency": "d1"}),
        ("comments", {"body": "edge firewall rule pushed"}),
        ("update", {"status": "contained", "owner": "city"}),
    ):
        done = soc.client.post(f"{url}/{path}", data={"csrf": csrf, **form}, follow_redirects=False)
        assert done.status_code == 303, (path, done.text)
    html = english(soc, url)
    assert 'id="case-update"' in html and "contained" in html
    steps = re.findall(r'data-action="([a-z_]+)"', html)
    assert steps[-5:] == ["task_added", "task_added", "comment", "status", "owner"]
    assert "Block 203.0.113.50" in html and "edge firewall rule pushed" in html
    soc.login("d1")
    html = english(soc, url)
    assert "Reset the camera" in html and "Block 203.0.113.50" not in html
    assert "edge firewall" not in html and 'id="case-update"' not in html
    assert "other agencies: 1 · not shown: alerts 1, tasks 1, comments 1" in html
    assert "mới → <strong>đã ngăn chặn</strong>" in soc.client.get(url).text  # the status step
    listing = soc.client.get("/cases").text  # Vietnamese by default
    assert f'data-case="{case}"' in listing and "Vụ việc" in listing


def test_the_notifications_page_lists_deliveries(soc: Soc) -> None:
    soc.login("city")
    vi = soc.client.get("/notifications").text
    assert "Thông báo" in vi and "Chưa cấu hình người nhận" in vi
    en = english(soc, "/notifications")
    assert "No notifications yet." in en and "0 given up" in en
    soc.login("ops")
    assert soc.client.get("/notifications").status_code == 403
