"""The console in Vietnamese, complete: both catalogues hold the same keys with the same
placeholders; every runbook has its Vietnamese version; every page every role reaches, in
Vietnamese, asks for no message the catalogue lacks and shows no English text of the
catalogue, no English rule title and no untranslated severity; error pages are pages in the
reader's language for a browser and JSON for the API; numbers and times are written as each
language writes them."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest

from detections.engine.catalog import RUNBOOKS_ROOT, load_catalog
from soc_api.console import i18n
from soc_api.console.i18n import format_number, format_time
from soc_api.runbooks import render_runbook

Soc = Any  # the seeded SOC helper of conftest.py
MESSAGES = Path(i18n.__file__).with_name("messages")
SAME_IN_BOTH = {"iocs.tlp", "ioc.kind.url", "kind.soc", "events.search"}  # names, not words
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)
HTML = {"accept": "text/html,application/xhtml+xml"}
SEVERITIES = ("critical", "high", "medium", "low", "informational")


def load(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{lang}.json").read_text("utf-8"))
    return data


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    en, vi = load("en"), load("vi")
    assert sorted(set(en) - set(vi)) == [], "keys missing from vi.json"
    assert sorted(set(vi) - set(en)) == [], "keys missing from en.json"
    assert [k for k in en if fields(en[k]) != fields(vi[k])] == []
    untranslated = [k for k in en if en[k] == vi[k] and k not in SAME_IN_BOTH]
    assert untranslated == [], "vi.json repeats the English text"
    assert [k for k in vi if not vi[k].strip()] == []


def test_every_runbook_has_a_vietnamese_version_with_the_same_placeholders() -> None:
    english = sorted(p.name for p in RUNBOOKS_ROOT.glob("*.md"))
    vietnamese = sorted(p.name for p in (RUNBOOKS_ROOT / "vi").glob("*.md"))
    assert english and english == vietnamese
    named = {str(f.rule.custom_attributes["runbook"]) for f in load_catalog().folders}
    assert named <= set(vietnamese)
    for name in english:
        own = (RUNBOOKS_ROOT / name).read_text("utf-8")
        translated = (RUNBOOKS_ROOT / "vi" / name).read_text("utf-8")
        used = set(re.findall(r"alert\.entity\.get\(\"([^\"]+)\"", own))
        assert set(re.findall(r"alert\.entity\.get\(\"([^\"]+)\"", translated)) == used, name
        assert len(VIETNAMESE.findall(translated)) > 50, name


class FakeAlert:
    def __init__(self) -> None:
        self.title = "Port scan stopped at a city firewall"
        self.agency, self.segment, self.security_level = "d1", "cam-d1", 3
        self.entity = {"source.ip": "203.0.113.9", "user.name": "op1", "host.hostname": "web1"}


@pytest.mark.parametrize("name", sorted(p.name for p in RUNBOOKS_ROOT.glob("*.md")))
def test_a_runbook_renders_in_vietnamese_with_the_alert_s_title(name: str) -> None:
    text = render_runbook(name, FakeAlert(), language="vi", title="Quét cổng bị chặn")
    assert "Quét cổng bị chặn" in text and "Phân loại" in text and "Port scan" not in text
    assert "## Why it matters" in render_runbook(name, FakeAlert())


def test_a_missing_runbook_is_said_in_the_reader_s_language() -> None:
    vi = i18n.translator("vi")
    assert render_runbook("", FakeAlert(), say=vi) == f"_{load('vi')['runbook.none']}_"
    broken = render_runbook("nope.md", FakeAlert(), language="vi", say=vi)
    assert broken.startswith("_Không hiển thị được quy trình xử lý `nope.md`")


def test_numbers_and_times_as_each_language_writes_them() -> None:
    assert format_number(1234567, "vi") == "1.234.567"
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234.5, "vi", 1) == "1.234,5"
    assert format_number("n/a", "vi") == "n/a" and format_number(None, "vi") == ""
    assert format_time("2026-12-02T04:46:36.123Z", "vi") == "02/12/2026 04:46:36"
    assert format_time("2026-12-02T04:46:36+00:00", "en") == "2026-12-02 04:46:36"
    assert format_time("2026-12-02T04:46:36Z", "vi", date_only=True) == "02/12/2026"
    assert format_time("not a time", "vi") == "not a time" and format_time(None, "en") == ""


def test_a_key_missing_from_a_catalogue_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translate = i18n.translator("vi")
    before = i18n.missing[("vi", "no.such.key")]
    assert translate("no.such.key") == "no.such.key"
    assert i18n.missing[("vi", "no.such.key")] == before + 1
    assert "no.such.key" in caplog.text or before  # logged the first time only


def english_texts(rule_titles: list[str]) -> list[str]:
    """English a Vietnamese page must not show: the catalogue's English sentences (where the
    Vietnamese differs) and every rule's English title."""
    en, vi = load("en"), load("vi")
    texts = {en[k].split("{", 1)[0].strip() for k in en if en[k] != vi[k]}
    return sorted({t for t in texts if len(t) >= 12 and " " in t} | set(rule_titles))


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<code\b.*?</code>", " ", html)  # field names, codes, raw event data
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html.replace("&amp;", "&").replace("&#39;", "'"))


def walk(soc: Soc, user: str) -> dict[str, str]:
    """Every page of the user's menu, and the first detail page linked from each."""
    soc.login(user)
    home = soc.client.get("/alerts", headers=HTML).text
    nav = re.search(r"(?s)<nav[^>]*>(.*?)</nav>", home)
    menu = re.findall(r'href="(/[^"?#]*)"', nav.group(1) if nav else "")
    pages: dict[str, str] = {}
    for path in dict.fromkeys(menu):
        response = soc.client.get(path, headers=HTML)
        # an operations engineer's menu names pages whose data is not theirs: a 403 page
        assert response.status_code in (200, 403), (user, path)
        pages[path] = response.text
        below = re.escape(path.rstrip("/"))
        detail = re.search(rf'href="({below}/[a-z0-9]+[^"]*)"', response.text)
        if detail and "/files/" not in detail.group(1):
            page = soc.client.get(detail.group(1).replace("&amp;", "&"), headers=HTML)
            if page.status_code == 200:
                pages[detail.group(1)] = page.text
    for path in ("/overview", "/cases", "/notifications"):  # whether or not the menu has them
        if path not in pages:
            page = soc.client.get(path, headers=HTML)
            if page.status_code == 200:
                pages[path] = page.text
    for kind in ("pivot", "cases", "notifications"):  # reached from entities and incidents
        link = next((m for html in list(pages.values()) for m in re.findall(
            rf'href="(/{kind}/[^"]+)"', html)), None)  # fmt: skip
        if link and link not in pages:
            page = soc.client.get(link.replace("&amp;", "&"), headers=HTML)
            if page.status_code == 200:
                pages[link] = page.text
    return pages


@pytest.mark.parametrize("user", ["city", "d1", "auditor", "ops", "admin"])
def test_every_page_in_vietnamese_shows_no_english(soc: Soc, user: str) -> None:
    soc.client.cookies.set("citysoc_lang", "vi")
    titles = [f.rule.title for f in load_catalog().folders]
    forbidden = english_texts(titles)
    missing_before = sum(n for (lang, _), n in i18n.missing.items() if lang == "vi")
    pages = walk(soc, user)
    soc.client.cookies.set("citysoc_lang", "vi")
    assert "/alerts" in pages or user == "ops", pages.keys()
    problems = []
    for path, html in pages.items():
        assert '<html lang="vi">' in html, path
        text = visible_text(html)
        problems += [f"{path}: {t!r}" for t in forbidden if t in text]
        for severity in re.findall(r'<span class="sev">([^<]*)</span>', html):
            if severity.strip().lower() in SEVERITIES:
                problems.append(f"{path}: severity {severity!r} in English")
    asked = {k: n for (lang, k), n in i18n.missing.items() if lang == "vi"}
    assert sum(asked.values()) == missing_before, f"keys missing from vi.json: {asked}"
    assert not problems, "\n".join(problems)


def test_rule_titles_runbooks_and_dates_follow_the_language(soc: Soc) -> None:
    alert_id = soc.alert_of("d1")
    soc.login("d1")
    soc.client.cookies.set("citysoc_lang", "vi")
    vi = soc.client.get(f"/alerts/{alert_id}").text
    assert "Dò mật khẩu RTSP trên camera" in vi and "Vì sao quan trọng" in vi
    assert re.search(r"\d\d/\d\d/2026 \d\d:\d\d:\d\d", vi)
    assert 'id="rule-description"' in vi and "Why it matters" not in vi
    soc.client.cookies.set("citysoc_lang", "en")
    en = soc.client.get(f"/alerts/{alert_id}").text
    assert "RTSP brute force against a camera" in en and "Why it matters" in en
    assert re.search(r"2026-\d\d-\d\d \d\d:\d\d:\d\d", en)


def test_errors_are_pages_in_the_reader_s_language_and_json_for_the_api(soc: Soc) -> None:
    vi, en = load("vi"), load("en")
    soc.login("d1")
    soc.client.cookies.set("citysoc_lang", "vi")
    missing = soc.client.get("/alerts/999999", headers=HTML)
    assert missing.status_code == 404 and 'id="error-page"' in missing.text
    assert vi["error.404"] in missing.text and '<html lang="vi">' in missing.text
    nowhere = soc.client.get("/no/such/page", headers=HTML)
    assert nowhere.status_code == 404 and vi["error.404"] in nowhere.text
    forged = soc.client.post(
        f"/alerts/{soc.alert_of('d1')}/triage", data={"csrf": "x", "status": "closed"}, headers=HTML
    )
    assert forged.status_code == 403 and vi["error.403_csrf"] in forged.text
    soc.login("d1")
    assert soc.client.get("/audit", headers=HTML).status_code == 403
    soc.client.cookies.set("citysoc_lang", "en")
    refused = soc.client.get("/audit", headers=HTML)
    assert en["error.403"] in refused.text and '<html lang="en">' in refused.text
    api = soc.client.get("/api/v1/alerts/999999", headers=HTML)
    assert api.status_code == 404 and api.json()["error"]["code"] == "NotFoundError"
    assert soc.client.get("/alerts/999999").json()["error"]["status"] == 404  # no HTML asked


def test_an_incident_title_read_back_in_vietnamese(soc: Soc) -> None:
    from soc_api.console.localized import Localizer

    agencies = soc.ctx.topology.agencies
    loc = Localizer.build("vi", i18n.translator("vi"), soc.ctx.rules, agencies)
    d1 = agencies["d1"]
    english = (
        f"203.0.113.50: RTSP brute force against a camera (+1) in {d1.name} → 2 other agencies"
    )
    said = loc.summary_title(english)
    assert said == (
        f"203.0.113.50: Dò mật khẩu RTSP trên camera (+1) tại {d1.name_vi or d1.name}"
        " → 2 đơn vị khác"
    )
    assert loc.summary_title("No attacker named: Unknown thing in d1") == (
        "No attacker named: Unknown thing in d1"
    )  # a title it cannot read stays as it is
    assert Localizer.build("en", i18n.translator("en"), [], {}).summary_title(english) == english


def test_a_case_title_nobody_wrote_is_said_in_vietnamese(soc: Soc) -> None:
    from soc_api.console.localized import Localizer

    loc = Localizer.build("vi", i18n.translator("vi"), soc.ctx.rules, soc.ctx.topology.agencies)
    english = "203.0.113.50: RTSP brute force against a camera (+5 alerts)"
    assert loc.case_title(english) == "203.0.113.50: Dò mật khẩu RTSP trên camera (+5 cảnh báo)"
    assert loc.case_title("203.0.113.50: RTSP brute force against a camera") == (
        "203.0.113.50: Dò mật khẩu RTSP trên camera"
    )
    assert loc.case_title("Camera Q1: our own words") == "Camera Q1: our own words"
