"""Syslog: RFC 3164/5424 headers, the city's programs, unknown, binary and oversized lines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from citysoc.core import ecs_reference
from citysoc.core.ecs import Event
from citysoc.core.errors import Location
from collectors import SAMPLES
from collectors.sources import syslog
from collectors.stats import CollectorStats

SAMPLE = SAMPLES / "syslog.log"
RECEIVED = datetime(2026, 11, 20, 3, 0, tzinfo=UTC).timestamp()
HERE = Location("test", line=1)


def parse(line: str | bytes, stats: CollectorStats | None = None) -> Event:
    return syslog.parse_syslog(line, HERE, stats or CollectorStats(), received=RECEIVED)


@pytest.fixture(scope="module")
def sample() -> tuple[list[Event], CollectorStats]:
    stats = CollectorStats()
    return list(syslog.read_syslog_file(SAMPLE, stats, received=RECEIVED)), stats


def test_sample_datasets(sample: tuple[list[Event], CollectorStats]) -> None:
    events, stats = sample
    assert len(events) == stats.events == 23
    assert Counter(e["event.dataset"] for e in events) == {
        "system.auth": 9,
        "cctv.hikvision": 3,
        "cctv.dahua": 2,
        "iptables.log": 3,
        "vms.audit": 4,
        "syslog.generic": 2,
    }
    assert stats.errors == Counter({"syslog-binary": 1})
    for event in events:
        assert ecs_reference.problems(event) == []
        assert event["event.original"]
    assert len({e["event.id"] for e in events}) == 23


def test_sshd_brute_force_then_success(sample: tuple[list[Event], CollectorStats]) -> None:
    ssh = [
        e
        for e in sample[0]
        if e["event.dataset"] == "system.auth" and e.get("source.ip") == "203.0.113.77"
    ]
    failed = [e for e in ssh if e["event.outcome"] == "failure" and e["user.name"] == "root"]
    accepted = [e for e in ssh if e["event.outcome"] == "success"]
    assert len(failed) == 6 and len(accepted) == 1
    assert all(e["host.hostname"] == "dc-app-01" for e in ssh)
    assert all(e["event.action"] == "ssh_login" for e in ssh)
    assert all(e["event.category"] == ["authentication", "session"] for e in ssh)
    assert [e["event.type"] for e in accepted] == [["info", "start"]]
    assert all(e["event.type"] == ["info"] for e in failed)
    assert accepted[0]["related.user"] == ["root"]
    assert accepted[0]["related.ip"] == ["203.0.113.77"]
    assert accepted[0]["related.hosts"] == ["dc-app-01"]
    assert failed[0]["@timestamp"] == "2026-11-20T02:10:01.000Z"
    assert failed[-1]["@timestamp"] < "2026-11-20T02:11:01"
    assert accepted[0]["source.port"] == 50170 and accepted[0]["process.pid"] == 2217


def test_rfc5424_header() -> None:
    event = parse(
        "<38>1 2026-11-20T02:10:01.250+07:00 dc-app-01 sshd 2211 ID47 - "
        "Failed password for invalid user ubnt from 198.51.100.7 port 4242 ssh2"
    )
    assert event["@timestamp"] == "2026-11-19T19:10:01.250Z"
    assert event["log.syslog.facility.name"] == "auth" and event["log.syslog.severity.code"] == 6
    assert event["log.syslog.msgid"] == "ID47" and event["user.name"] == "ubnt"
    assert event["source.ip"] == "198.51.100.7" and event["source.port"] == 4242


def test_rfc3164_year_comes_from_received() -> None:
    stats = CollectorStats()
    line = (
        "<38>Dec 31 23:59:58 dc-app-01 sshd[9]: "
        "Accepted publickey for deploy from 10.60.0.5 port 1 ssh2"
    )
    event = syslog.parse_syslog(
        line, HERE, stats, received=datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC).timestamp()
    )
    assert event["@timestamp"] == "2026-12-31T23:59:58.000Z"
    assert event["system.auth.ssh.method"] == "publickey" and event["event.outcome"] == "success"


def test_camera_and_nvr(sample: tuple[list[Event], CollectorStats]) -> None:
    hik = [e for e in sample[0] if e["event.dataset"] == "cctv.hikvision"]
    assert [e["event.outcome"] for e in hik] == ["failure", "failure", "success"]
    assert hik[0]["user.name"] == "admin" and hik[0]["source.ip"] == "203.0.113.50"
    dahua = [e for e in sample[0] if e["event.dataset"] == "cctv.dahua"]
    assert dahua[0]["event.outcome"] == "failure" and dahua[0]["source.ip"] == "10.32.0.66"
    assert dahua[0]["event.reason"] == "Password error"
    assert dahua[1]["user.name"] == "operator1" and dahua[1]["event.outcome"] == "success"


def test_firewall_lines(sample: tuple[list[Event], CollectorStats]) -> None:
    fw = [e for e in sample[0] if e["event.dataset"] == "iptables.log"]
    assert [e["event.action"] for e in fw] == ["firewall-drop"] * 3
    first = fw[0]
    assert first["event.category"] == ["network"] and first["rule.name"] == "citysoc-drop"
    assert first["event.type"] == ["connection", "denied"]
    assert (first["source.ip"], first["destination.ip"], first["destination.port"]) == (
        "10.32.0.66",
        "10.31.0.40",
        23,
    )
    assert first["network.transport"] == "tcp" and first["source.port"] == 49549
    accept = parse(
        "<4>Nov 20 02:00:00 fw kernel: city-accept IN=a OUT=b SRC=10.0.0.1 "
        "DST=10.0.0.2 PROTO=UDP SPT=1 DPT=514"
    )
    assert accept["event.action"] == "firewall-accept"
    assert accept["event.type"] == ["connection", "allowed"]
    custom = parse(
        "<4>Nov 20 02:00:00 fw kernel: ssh-new IN=a OUT= SRC=10.0.0.1 DST=10.0.0.2 "
        "PROTO=TCP SPT=1 DPT=22"
    )
    assert custom["event.action"] == "ssh-new"


def test_vms_operator_logins(sample: tuple[list[Event], CollectorStats]) -> None:
    vms = [e for e in sample[0] if e["event.dataset"] == "vms.audit"]
    assert [(e["user.name"], e["event.action"], e["event.outcome"]) for e in vms] == [
        ("op.nguyen", "vms_login", "success"),
        ("op.tran", "vms_login", "failure"),
        ("op.tran", "vms_login", "success"),
        ("op.nguyen", "vms_logout", "success"),
    ]
    assert vms[0]["source.ip"] == "10.20.0.101" and vms[0]["vms.console"] == "wall-2"


def test_unknown_line_is_kept() -> None:
    event = parse("<30>Nov 20 02:30:00 ioc-vms-01 systemd[1]: Started something.")
    assert event["event.dataset"] == "syslog.generic"
    assert event["message"] == "Started something."
    assert event["event.original"].startswith("<30>Nov 20")
    bare = parse("just some words")
    assert bare["event.dataset"] == "syslog.generic" and bare["message"] == "just some words"
    assert bare["@timestamp"] == "2026-11-20T03:00:00.000Z"


def test_binary_and_oversized() -> None:
    stats = CollectorStats()
    binary = parse(b"<13>Nov 20 02:31:00 cam \x00\xff\x1bgarbage", stats)
    assert binary["event.dataset"] == "syslog.generic"
    assert "\\x00" in binary["event.original"] and "\x00" not in binary["event.original"]
    big = parse("<13>Nov 20 02:31:00 cam app: " + "A" * 70_000, stats)
    assert len(big["event.original"]) <= syslog.MAX_MESSAGE
    assert stats.errors == Counter({"syslog-binary": 1, "syslog-oversized": 1})


def test_sshd_lines_elastic_parses_too() -> None:
    no_id = parse(
        "<38>Nov 20 02:15:00 dc-app-01 sshd[2400]: "
        "Did not receive identification string from 198.51.100.23 port 40112"
    )
    assert (no_id["event.action"], no_id["source.ip"], no_id["source.port"]) == (
        "ssh_no_identification",
        "198.51.100.23",
        40112,
    )
    assert no_id["event.category"] == ["network"] and "event.outcome" not in no_id
    old = parse(
        "<38>Nov 20 02:15:01 dc-app-01 sshd[2401]: Did not receive identification string "
        "from 198.51.100.24"
    )
    assert old["source.ip"] == "198.51.100.24" and "source.port" not in old
    pam = parse(
        "<38>Nov 20 02:15:02 dc-app-01 sshd[2402]: "
        "error: PAM: Authentication failure for illegal user admin from 198.51.100.23"
    )
    assert (pam["user.name"], pam["source.ip"], pam["event.outcome"]) == (
        "admin",
        "198.51.100.23",
        "failure",
    )
    assert pam["event.action"] == "ssh_login" and pam["related.user"] == ["admin"]
    illegal = parse(
        "<38>Nov 20 02:15:03 dc-app-01 sshd[2403]: Illegal user test from 198.51.100.23"
    )
    assert illegal["user.name"] == "test" and illegal["system.auth.ssh.event"] == "Invalid"
    for event in (no_id, old, pam, illegal):
        assert ecs_reference.problems(event) == []


def test_structured_data_is_an_ecs_object() -> None:
    event = parse(
        '<165>1 2026-11-20T02:00:00Z cam-01 vms 1 ID1 [exampleSDID@32473 iut="3" '
        'eventSource="Application" note="a \\"quoted\\" \\]"][origin ip="10.31.0.7"] hello'
    )
    assert event["log.syslog.structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "note": 'a "quoted" ]'},
        "origin": {"ip": "10.31.0.7"},
    }
    assert event["message"] == "hello"
    broken = parse("<165>1 2026-11-20T02:00:00Z cam-01 vms 1 ID1 [x y] hello")
    assert "log.syslog.structured_data" not in broken
    assert broken["citysoc.syslog.structured_data"] == "[x y]"


def test_web_server_access_lines_become_http_requests() -> None:
    line = (
        "<30>Dec  2 02:26:07 portal-01 nginx[812]: 203.0.113.20 - - [02/Dec/2026:02:26:07 +0000] "
        '"GET /tra-cuu?q=1+union+select+1&password=hunter2 HTTP/1.1" 404 15 "-" "sqlmap/1.7"'
    )
    event = syslog.parse_syslog(line, Location("udp"), CollectorStats(), received=1_796_000_000.0)
    assert event["event.dataset"] == "nginx.access"
    assert event["event.action"] == "http_request"
    assert event["source.ip"] == "203.0.113.20"
    assert event["url.path"] == "/tra-cuu"
    assert "union+select" in event["url.query"]
    assert event["http.response.status_code"] == 404 and event["event.outcome"] == "failure"
    assert event["user_agent.original"] == "sqlmap/1.7"
    assert "hunter2" not in str(event)
    other = syslog.parse_syslog(
        "<30>Dec  2 02:26:07 portal-01 nginx[812]: worker process started",
        Location("udp"), CollectorStats(), received=1_796_000_000.0,
    )  # fmt: skip
    assert other["event.dataset"] == "syslog.generic"
