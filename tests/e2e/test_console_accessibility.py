"""Every console page in a real headless Chromium, in Vietnamese and English, at desktop
(1280 px) and phone (390 px) widths, checked by axe-core: no serious or critical
accessibility violation, the page's language declared, no English left on a Vietnamese page.

The walk starts from the log-in page, follows every link of the header's menu and the first
detail link of each list, so a page added to the menu is checked without touching this test.
A second test follows an analyst's path, overview → pivot → case → notifications, and keeps
its screenshots for docs/console.md (scripts/console-screenshots.sh copies them there).
Findings of every impact go to artifacts/console/a11y/report.json beside the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".cache" / "axe-core" / "4.14.1" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "console" / "a11y"
STORY = ROOT / "artifacts" / "console" / "story"
MESSAGES = ROOT / "soc_api" / "console" / "messages"
PASSWORD = "browser-test-password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
WIDTHS = {"desktop": 1280, "phone": 390}
BLOCKING = ("serious", "critical")
# Detail pages reached from a list: the first link of each kind found on the page.
DETAIL_LINKS = re.compile(r"^/(alerts|incidents|cases|pivot|notifications|compliance/reports)/.")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
    pytest.mark.skipif(
        not AXE.is_file(), reason=f"needs axe-core in {AXE.parent} (scripts/system-deps.sh, npm)"
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink(BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1: the SOC's notifications are delivered for real."""

    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        Sink.received.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, name="webhook-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/soc"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, webhook: str) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("a11y") / "var"
    target = [{"url": webhook, "secret": "browser-test-webhook-secret"}]
    env = {**os.environ, "CITYSOC_DATA_DIR": str(data), "CITYSOC_DEMO_PASSWORD": PASSWORD,
           "CITYSOC_DETECTION_INTERVAL_SECONDS": "2", "CITYSOC_API_HOST": "127.0.0.1",
           "CITYSOC_NOTIFY_WEBHOOKS": json.dumps(target),
           "CITYSOC_NOTIFY_INTERVAL_SECONDS": "1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "demo", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_alerts(base, time.monotonic() + 120)
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
                    form = {"username": "admin", "password": PASSWORD, "csrf": token}
                    logged_in = client.post("/login", data=form).status_code in (200, 303)
                elif client.get("/api/v1/alerts").json().get("total", 0) >= 3:
                    return
            except (httpx.TransportError, IndexError, ValueError):
                pass
            time.sleep(0.5)
    raise AssertionError("the demo raised no alerts in time")


def english_only(lang: str) -> list[str]:
    """English texts of the catalogue that a Vietnamese page must not show."""
    if lang != "vi":
        return []
    en = json.loads((MESSAGES / "en.json").read_text("utf-8"))
    vi = json.loads((MESSAGES / "vi.json").read_text("utf-8"))
    texts = {text.split("{", 1)[0].strip() for key, text in en.items() if vi.get(key) != text}
    return sorted(t for t in texts if len(t) >= 12 and " " in t)


def check_page(
    page: Any, name: str, lang: str, width: str, shots: Path = ARTIFACTS
) -> dict[str, Any]:
    page.evaluate(AXE.read_text("utf-8"))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})); }"
    )
    page.screenshot(path=str(shots / f"{lang}-{width}-{name}.png"), full_page=True)
    text = page.inner_text("body")
    return {
        "page": name,
        "url": urlsplit(page.url).path,
        "lang": page.locator("html").get_attribute("lang"),
        "violations": result,
        "english": [t for t in english_only(lang) if t in text],
        "overflow": page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
    }


def walk(page: Any, base: str, lang: str, width: str) -> list[dict[str, Any]]:
    found = [check_page(page, "login", lang, width)]
    page.fill('input[name="username"]', "admin")
    page.fill('input[name="password"]', PASSWORD)
    page.click('.login button[type="submit"]')
    page.wait_for_load_state()
    menu = [urlsplit(h).path for h in page.eval_on_selector_all(
        "header nav a[href]", "links => links.map(a => a.getAttribute('href'))")]  # fmt: skip
    seen: set[str] = set()
    for path in dict.fromkeys(menu):
        page.goto(base + path)
        name = path.strip("/").replace("/", "-") or "home"
        found.append(check_page(page, name, lang, width))
        hrefs = page.eval_on_selector_all(
            "main a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        for href in hrefs:
            target = urlsplit(href).path
            kind = DETAIL_LINKS.match(target)
            if kind and kind.group(1) not in seen and not target.startswith(path + "/files"):
                seen.add(kind.group(1))
                page.goto(base + target)
                found.append(
                    check_page(page, f"{name}-{kind.group(1).replace('/', '-')}", lang, width)
                )
    page.goto(base + "/alerts/999999999")  # the error page of a missing object
    found.append(check_page(page, "not-found", lang, width))
    return found


def blocking(report: list[dict[str, Any]]) -> list[str]:
    problems = [
        f"{r['lang_wanted']}/{r['width']} {r['url']}: {v['impact']} {v['id']} ({v['help']}) "
        f"at {v['nodes']}"
        for r in report
        for v in r["violations"]
        if v["impact"] in BLOCKING
    ]
    problems += [
        f"{r['lang_wanted']}/{r['width']} {r['url']}: lang={r['lang']!r}"
        for r in report
        if r["lang"] != r["lang_wanted"]
    ]
    problems += [
        f"vi/{r['width']} {r['url']}: English left: {r['english']}" for r in report if r["english"]
    ]
    return problems


def test_every_page_is_accessible_in_both_languages_at_both_widths(demo: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report: list[dict[str, Any]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for lang in ("vi", "en"):
                for width, pixels in WIDTHS.items():
                    context = browser.new_context(
                        viewport={"width": pixels, "height": 900}, bypass_csp=True
                    )
                    context.add_cookies([{"name": "citysoc_lang", "value": lang, "url": demo}])
                    page = context.new_page()
                    page.goto(f"{demo}/login")
                    for entry in walk(page, demo, lang, width):
                        report.append({"lang_wanted": lang, "width": width, **entry})
                    context.close()
        finally:
            browser.close()
    (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    pages = {r["page"] for r in report}
    assert {"login", "alerts", "alerts-alerts", "incidents", "not-found"} <= pages, pages
    problems = blocking(report)
    assert not problems, "\n".join(problems)


def log_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('.login button[type="submit"]')
    page.wait_for_load_state()


def first_link(page: Any, prefix: str) -> str | None:
    hrefs = page.eval_on_selector_all(
        "main a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    return next((h for h in hrefs if urlsplit(h).path.startswith(prefix)), None)


def open_case(page: Any, base: str) -> str | None:
    """A case opened from the first incident, by the incident page's form where it has one,
    else by the same form post the console makes; None where the console has no cases."""
    page.goto(f"{base}/incidents")
    incident = first_link(page, "/incidents/")
    if incident is None:
        return None
    page.goto(base + incident)
    form = page.locator('form[action="/cases"] button[type="submit"]')
    if form.count():
        form.first.click()
        page.wait_for_load_state()
    else:
        number = urlsplit(incident).path.rsplit("/", 1)[1]
        landed = page.evaluate(
            "async (id) => { const body = new URLSearchParams({incident_id: id,"
            " csrf: document.querySelector('meta[name=csrf]').content});"
            " const r = await fetch('/cases', {method: 'POST', body}); return r.url; }",
            number,
        )
        page.goto(landed)
    path = urlsplit(page.url).path
    return path if path.startswith("/cases/") else None


def test_an_analyst_s_path_overview_pivot_case_notifications(demo: str) -> None:
    """Overview → an entity's pivot page → a case opened from an incident → notifications,
    in both languages at both widths, each page with no serious accessibility violation."""
    from playwright.sync_api import sync_playwright

    STORY.mkdir(parents=True, exist_ok=True)
    report: list[dict[str, Any]] = []
    reached: dict[str, str] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for lang in ("vi", "en"):
                for width, pixels in WIDTHS.items():
                    context = browser.new_context(
                        viewport={"width": pixels, "height": 900}, bypass_csp=True
                    )
                    context.add_cookies([{"name": "citysoc_lang", "value": lang, "url": demo}])
                    page = context.new_page()
                    log_in(page, demo, "analyst")
                    if "overview" not in reached:
                        page.goto(f"{demo}/overview")
                        if page.locator("#error-page").count() == 0:
                            reached["overview"] = "/overview"
                            pivot = first_link(page, "/pivot/")
                            if pivot is None:  # the overview's entities open the queue
                                page.goto(f"{demo}/alerts")
                                pivot = first_link(page, "/pivot/ip/") or first_link(
                                    page, "/pivot/"
                                )
                            reached["pivot"] = pivot or ""
                        case = open_case(page, demo)
                        reached["case"] = case or ""
                        deadline = time.monotonic() + 30  # the case's own notice, delivered
                        while len(Sink.received) < 2 and time.monotonic() < deadline:
                            time.sleep(0.5)
                        page.goto(f"{demo}/notifications")
                        ok = page.locator("#error-page").count() == 0
                        reached["notifications"] = "/notifications" if ok else ""
                    for step, (name, path) in enumerate(reached.items(), start=1):
                        if not path:
                            continue
                        page.goto(demo + path)
                        entry = check_page(page, f"{step}-{name}", lang, width, shots=STORY)
                        report.append({"lang_wanted": lang, "width": width, **entry})
                    context.close()
        finally:
            browser.close()
    (STORY / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (STORY / "reached.json").write_text(json.dumps(reached, indent=1))
    assert reached.get("overview") and reached.get("pivot"), reached
    if reached.get("notifications"):
        assert Sink.received, "no notification reached the webhook"
    assert len(report) == 4 * sum(1 for p in reached.values() if p)
    problems = blocking(report)
    assert not problems, "\n".join(problems)
