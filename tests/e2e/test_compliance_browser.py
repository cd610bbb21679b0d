"""A real headless Chromium on the Compliance page: the city auditor generates a signed
Decree 85 report for District 1 from the demo's data and downloads its PDF and JSON."""

from __future__ import annotations

import json
import os
import shutil
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
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "compliance"
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
           "CITYSOC_DEMO_PASSWORD": PASSWORD, "CITYSOC_API_HOST": "127.0.0.1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "demo", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError("the demo did not start in time")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_auditor_generates_and_downloads_a_report(demo: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page.goto(f"{demo}/login")
        page.fill('input[name="username"]', "auditor")
        page.fill('input[name="password"]', PASSWORD)
        page.click('.login button[type="submit"]')
        page.click('header nav a[href="/compliance"]')
        expect(page.locator("#compliance-form")).to_be_visible()
        page.select_option('select[name="agency"]', "d1")
        page.select_option('select[name="framework"]', "decree85")
        page.fill('input[name="period"]', "2026-H2")
        page.click("#compliance-generate", timeout=180_000)
        row = page.locator('tr[data-report="decree85-d1-2026-H2"]')
        expect(row).to_be_visible(timeout=180_000)
        page.screenshot(path=str(ARTIFACTS / "compliance.png"), full_page=True)
        saved = {}
        for suffix in (".json", ".pdf"):
            with page.expect_download() as info:
                row.locator(f'a[href$="decree85-d1-2026-H2{suffix}"]').click()
            saved[suffix] = tmp_path / f"report{suffix}"
            info.value.save_as(saved[suffix])
        browser.close()
    report = json.loads(saved[".json"].read_text(encoding="utf-8"))
    assert report["agency"]["id"] == "d1" and report["lang"] == "vi"
    assert report["evidence"]["alert_handling"]["data"]["alerts"] >= 1
    assert saved[".pdf"].read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(saved[".pdf"]), "-"], check=True,
                              capture_output=True, timeout=60).stdout.decode()  # fmt: skip
        assert "Báo cáo tuân thủ an toàn thông tin" in text
