"""Every console page in a real headless Chromium at a 390x844 phone and at desktop width:
nothing sticks out of the viewport sideways (tables scroll inside themselves, the queue turns
into cards), and the navigation folds behind a Menu button on the phone. Pages are found by
following the header's links for each demo user, plus an alert, an incident and /docs.
Screenshots go to artifacts/console-layout/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_console_browser import (  # noqa: F401  (``demo`` is a fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    demo,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console-layout"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}
USERS = ("analyst", "d1-analyst", "auditor", "ops", "admin")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]

# What sticks out past the right (or left) edge of the viewport and is not inside a scrolling
# container that itself fits: the page's own sideways scroll, then each such element.
OVERFLOW = """() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  const doc = document.documentElement.scrollWidth;
  if (doc > vw + 1) out.push(`the page is ${doc}px wide in a ${vw}px viewport`);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className ? "." + el.className.split(" ")[0] : "");
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || (box.right <= vw + 1 && box.left >= -1)) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;  // e.g. in a closed <details>
    let up = el.parentElement, scrolls = false;
    while (up && up !== document.body) {
      const style = getComputedStyle(up);
      const edge = up.getBoundingClientRect();
      const scroller = ["auto", "scroll"].includes(style.overflowX);
      if (scroller && edge.right <= vw + 1) { scrolls = true; break; }
      up = up.parentElement;
    }
    if (!scrolls) out.push(`${name(el)} spans ${Math.round(box.left)}..${Math.round(box.right)}`);
    if (out.length > 12) break;
  }
  return out;
}"""


def log_in(page: Any, base: str, user: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('.login button[type="submit"]')
    page.wait_for_load_state()


def pages_of(page: Any, base: str) -> list[str]:
    """The header's links, an alert and an incident where the user may read them."""
    found = [page.eval_on_selector_all("header nav a", "links => links.map(a => a.pathname)")]
    paths = list(dict.fromkeys(found[0]))
    for listing, pattern in (("/alerts", "#alert-table a[href^='/alerts/']"),
                             ("/incidents", "main a[href^='/incidents/']")):  # fmt: skip
        if listing in paths:
            page.goto(base + listing)
            first = page.locator(pattern).first
            if first.count():
                paths.append(first.get_attribute("href").split("#")[0])
    return paths


def check(page: Any, label: str, *, idle: bool = False) -> list[str]:
    """What sticks out of the page as it is now, with its screenshot. Console pages make no
    request after their load event (console.js and nav.js only answer keys and clicks), which
    ``goto`` already waits for; ``idle`` waits for the network to be quiet for 500 ms as well,
    for a page that fetches after loading (/docs). Waiting so on every page was 59 s of this
    test's 145 s and changed nothing it found."""
    page.wait_for_load_state("networkidle" if idle else "load")
    problems: list[str] = page.evaluate(OVERFLOW)
    page.screenshot(path=str(ARTIFACTS / f"{label}.png"), full_page=True)
    return [f"{label}: {p}" for p in problems]


def test_every_page_fits_a_phone_and_a_desktop(demo: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    seen: set[str] = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page = browser.new_page(viewport=size)
            page.goto(f"{demo}/login")
            problems += check(page, f"{size_name}-login")
            for user in USERS:
                log_in(page, demo, user)
                for path in pages_of(page, demo):
                    page.goto(demo + path + ("?period=all" if path == "/overview" else ""))
                    seen.add(path.rsplit("/", 1)[0] + "/N" if path[-1].isdigit() else path)
                    problems += check(
                        page, f"{size_name}-{user}-{path.strip('/').replace('/', '-')}"
                    )
            page.goto(f"{demo}/docs")
            expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
            problems += check(page, f"{size_name}-docs", idle=True)
            page.close()
        browser.close()
    assert {"/overview", "/alerts", "/alerts/N", "/incidents", "/audit", "/tokens"} <= seen
    assert problems == [], "\n".join(problems)


def test_the_phone_folds_the_navigation_and_shows_the_queue_as_cards(demo: str) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=PHONE)
        log_in(page, demo, "analyst")
        assert page.url.endswith("/overview")
        toggle = page.locator("#nav-toggle")
        expect(toggle).to_be_visible()
        expect(page.locator("#main-nav")).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.locator('#main-nav a[href="/alerts"]')).to_be_visible()
        page.click('#main-nav a[href="/alerts"]')
        expect(page.locator("#alert-table thead")).to_be_hidden()
        card = page.locator("#alert-table tbody tr").first
        expect(card).to_be_visible()
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert page.locator("#alert-table tbody tr a").first.is_visible()  # the title, a link

        desktop = browser.new_page(viewport=DESKTOP)
        log_in(desktop, demo, "analyst")
        expect(desktop.locator("#nav-toggle")).to_be_hidden()
        expect(desktop.locator('#main-nav a[href="/alerts"]')).to_be_visible()
        desktop.goto(f"{demo}/alerts")
        expect(desktop.locator("#alert-table thead")).to_be_visible()
        browser.close()


def test_the_overview_leads_to_the_filtered_queue(demo: str) -> None:  # noqa: F811
    """A map tile and a bar open the queue filtered to what they count; the overview is shot
    in both languages at both widths (scripts/overview-screenshots.sh copies them to docs)."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page = browser.new_page(viewport=size)
            log_in(page, demo, "analyst")
            for lang in ("vi", "en"):
                if page.locator("html").get_attribute("lang") != lang:
                    page.click("#lang-switch")
                page.goto(f"{demo}/overview?period=all")
                expect(page.locator("#chart-map svg:visible .tile").first).to_be_visible()
                page.wait_for_load_state("networkidle")
                page.screenshot(
                    path=str(ARTIFACTS / f"overview-{lang}-{size_name}.png"), full_page=True
                )
            tiles = page.locator("#chart-map svg:visible .tile[data-open]").evaluate_all(
                "ts => ts.map(t => [t.dataset.segment, Number(t.dataset.open)])"
            )
            segment, open_alerts = max(tiles, key=lambda tile: tile[1])
            assert open_alerts > 0
            page.click(f"#chart-map svg:visible a:has(.tile[data-segment='{segment}'])")
            page.wait_for_url(f"**/alerts?segment={segment}")
            rows = page.locator("#alert-table tbody tr")
            expect(rows.first).to_be_visible()
            statuses = rows.evaluate_all("rs => rs.map(r => r.dataset.status)")
            assert len([s for s in statuses if s != "closed"]) == open_alerts
            page.goto(f"{demo}/overview?period=all")
            bar = page.locator("#chart-rules a").first
            count = int(str(bar.get_attribute("aria-label")).rsplit(": ", 1)[1])
            bar.click()
            page.wait_for_url("**/alerts?rule=*")
            expect(page.locator("#alert-table tbody tr")).to_have_count(count)
            expect(page.locator("#narrowed")).to_be_visible()
            page.close()
        browser.close()
