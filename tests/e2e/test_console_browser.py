"""A real headless Chromium on the console: log in, triage from the keyboard, close an alert
with a reason, find the audit entry; then an auditor finds the change in the audit log and
verifies its hash chain. Screenshots go to artifacts/console/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
PASSWORD = "browser-test-password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var"),
           "CITYSOC_DEMO_PASSWORD": PASSWORD, "CITYSOC_DETECTION_INTERVAL_SECONDS": "2",
           "CITYSOC_API_HOST": "127.0.0.1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "demo", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_alerts(base, time.monotonic() + 90)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def wait_for_alerts(base: str, deadline: float) -> None:
    with httpx.Client(base_url=base, timeout=5) as client:
        logged_in = False
        while time.monotonic() < deadline:
            try:
                if not logged_in:
                    page = client.get("/login")
                    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                    form = {"username": "analyst", "password": PASSWORD, "csrf": token}
                    logged_in = client.post("/login", data=form).status_code in (200, 303)
                elif client.get("/api/v1/alerts").json().get("total", 0) >= 3:
                    return
            except (httpx.TransportError, IndexError):
                pass
            time.sleep(0.5)
    raise AssertionError("the demo raised no alerts in time")


def test_log_in_triage_close_and_find_the_audit_entry(demo: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{demo}/login")
        page.fill('input[name="username"]', "analyst")
        page.fill('input[name="password"]', PASSWORD)
        page.click('.login button[type="submit"]')
        page.wait_for_url("**/overview")  # the landing page; the queue is one link away
        page.click('header nav a[href="/alerts"]')
        expect(page.locator("#alert-table tbody tr").first).to_be_visible()
        assert page.locator("html").get_attribute("lang") == "vi"
        page.screenshot(path=str(ARTIFACTS / "1-queue.png"), full_page=True)

        first = page.locator("#alert-table tbody tr").first
        alert_id = first.get_attribute("data-id")
        assert first.get_attribute("data-rule") and first.get_attribute("data-agency")
        page.keyboard.press("a")  # acknowledge the highlighted alert
        row = page.locator(f'#alert-table tr[data-id="{alert_id}"]')
        expect(row).to_have_attribute("data-status", "acknowledged")

        page.locator(f'#alert-table tr[data-id="{alert_id}"] td.num').first.click()
        page.keyboard.press("c")  # open it to close with a reason
        page.wait_for_url(f"**/alerts/{alert_id}#close-form")
        expect(page.locator(".runbook h1, .runbook h2").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "2-detail.png"), full_page=True)
        page.select_option("#close-reason", "true_positive")
        page.fill("#close-note", "Blocked the source at the city edge.")
        page.click("#close-submit")
        expect(page.locator("#alert-status")).to_have_attribute("data-status", "closed")
        entry = page.locator('#history li[data-action="alert.update"]').first
        expect(entry).to_contain_text("closed")
        expect(entry).to_contain_text("true_positive")
        page.screenshot(path=str(ARTIFACTS / "3-closed.png"), full_page=True)

        page.click("#lang-switch")
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(f"{demo}/incidents")
        page.screenshot(path=str(ARTIFACTS / "4-incidents.png"), full_page=True)

        page.click("form.who button")  # log out; the auditor finds the change and its chain
        page.fill('input[name="username"]', "auditor")
        page.fill('input[name="password"]', PASSWORD)
        page.click('.login button[type="submit"]')
        page.click('header nav a[href="/audit"]')
        page.fill('input[name="object_id"]', str(alert_id))
        page.click("#audit-verify")
        expect(page.locator("#audit-chain")).to_have_attribute("data-intact", "yes")
        change = page.locator('tr[data-action="alert.update"]').first
        expect(change).to_contain_text("true_positive")
        page.screenshot(path=str(ARTIFACTS / "5-audit.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "3-closed.png").stat().st_size > 0


def test_query_the_queue_then_pivot_on_an_address_and_read_its_events(demo: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{demo}/login")
        page.fill('input[name="username"]', "analyst")
        page.fill('input[name="password"]', PASSWORD)
        page.click('.login button[type="submit"]')
        page.goto(f"{demo}/alerts")

        page.fill('.queue-head input[name="q"]', "rule_name:credential_access_* OR risk_score:>=90")
        page.press('.queue-head input[name="q"]', "Enter")
        rows = page.locator("#alert-table tbody tr")
        expect(rows.first).to_be_visible()
        for n in range(rows.count()):
            rule = rows.nth(n).get_attribute("data-rule") or ""
            risk = int(rows.nth(n).locator("td.num").first.inner_text())
            assert rule.startswith("credential_access_") or risk >= 90, (rule, risk)
        page.screenshot(path=str(ARTIFACTS / "6-query.png"), full_page=True)

        page.fill('.queue-head input[name="q"]', "risk_score:[1 TO")
        page.press('.queue-head input[name="q"]', "Enter")
        expect(page.locator("#query-error")).to_contain_text("17")  # "cột 17" in Vietnamese
        expect(page.locator("#query-error pre")).to_contain_text("^")

        page.goto(f"{demo}/alerts")
        address = page.locator('#alert-table a.entity[href^="/pivot/ip/"]').first
        shown = address.inner_text().strip()
        address.click()
        page.wait_for_url("**/pivot/ip/**")
        expect(page.locator("#pivot")).to_have_attribute("data-value", shown)
        expect(page.locator("#pivot-agencies tbody tr").first).to_be_visible()
        assert page.locator("#pivot-first").inner_text().strip() != "—"
        expect(page.locator("#pivot-alerts tbody tr").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "7-pivot.png"), full_page=True)

        page.click('a[href^="/events?q="]')
        page.wait_for_url("**/events?q=**")
        expect(page.locator("#event-table tbody tr").first).to_be_visible()
        expect(page.locator("#event-table")).to_contain_text(shown)
        total = int(page.locator("#event-total").inner_text().replace(".", "").replace(",", ""))
        assert total >= 1
        page.screenshot(path=str(ARTIFACTS / "8-events.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "7-pivot.png").stat().st_size > 0
