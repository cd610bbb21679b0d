"""``/docs`` in a real headless Chromium: Swagger UI renders the API's operations from files
served by citysoc itself, and not one request leaves 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest

from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var"),
           "CITYSOC_DETECTION_INTERVAL_SECONDS": "3600"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "serve", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError("the SOC API did not start in 60 s")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_docs_render_every_operation_from_local_files_only(server: str) -> None:
    from playwright.sync_api import Request, Route, expect, sync_playwright

    operations = sum(
        len(methods) for methods in httpx.get(f"{server}/openapi.json").json()["paths"].values()
    )
    asked: list[str] = []
    refused: list[str] = []
    violations: list[str] = []

    def guard(route: Route, request: Request) -> None:
        asked.append(request.url)
        host = urlsplit(request.url).hostname
        if request.url.startswith("data:") or host == "127.0.0.1":
            route.continue_()
        else:  # never let it out; the assertion below names it
            refused.append(request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", guard)
        page.on(
            "console",
            lambda msg: violations.append(msg.text) if "Content Security" in msg.text else None,
        )
        page.goto(f"{server}/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
        shown = page.locator(".opblock").count()
        expect(page.locator(".info .title")).to_contain_text("citysoc SOC API")
        browser.close()
    assert refused == [], f"requests left 127.0.0.1: {refused}"
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in asked)
    assert any(url.endswith("/openapi.json") for url in asked)
    assert shown == operations, f"{shown} operations shown of {operations}"
    assert violations == [], violations
