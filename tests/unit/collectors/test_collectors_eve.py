"""Suricata EVE JSON to ECS: each event type, and bad lines counted with their numbers."""

from __future__ import annotations

import gzip
import logging
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from citysoc.core import ecs_reference
from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors import SAMPLES
from collectors.delivery.raw_lines import RawLines
from collectors.enrich import enricher_for
from collectors.sources import eve
from collectors.stats import CollectorStats

SAMPLE = SAMPLES / "eve.json"
HERE = Location("test", line=1)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(eve.read_eve(SAMPLE, CollectorStats()))


def by_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["suricata.eve.event_type"] == kind]


def test_sample_counts_and_bad_lines(caplog: pytest.LogCaptureFixture) -> None:
    stats = CollectorStats()
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        result = list(eve.read_eve(SAMPLE, stats))
    assert len(result) == stats.events == stats.parsed == 13
    assert stats.received == 15
    assert stats.errors == Counter({"eve-not-json": 1, "eve-partial-line": 1})
    assert "eve.json, line 8: eve-not-json" in caplog.text
    assert "eve.json, line 15: eve-partial-line" in caplog.text
    types = Counter(e["suricata.eve.event_type"] for e in result)
    assert types == {
        "alert": 2,
        "flow": 3,
        "dns": 2,
        "http": 2,
        "tls": 1,
        "fileinfo": 1,
        "anomaly": 1,
        "stats": 1,
    }
    for event in result:
        assert event["event.module"] == "suricata" and event["event.dataset"] == "suricata.eve"
        assert ecs_reference.problems(event) == []
    assert len({e["event.id"] for e in result}) == 13


def test_alerts(events: list[Event]) -> None:
    hik, mirai = by_type(events, "alert")
    assert hik["event.kind"] == "alert"
    assert hik["event.category"] == ["network", "intrusion_detection"]
    assert hik["event.type"] == ["allowed"]
    assert (hik["observer.vendor"], hik["observer.product"], hik["observer.type"]) == (
        "OISF",
        "Suricata",
        "ids",
    )
    assert hik["rule.name"] == "ET EXPLOIT Hikvision IP Camera Command Injection (CVE-2021-36260)"
    assert hik["rule.id"] == "2033988" and hik["event.severity"] == 1
    assert hik["rule.category"] == "Attempted Administrator Privilege Gain"
    assert (hik["source.ip"], hik["destination.ip"], hik["destination.port"]) == (
        "203.0.113.77",
        "10.32.1.15",
        80,
    )
    assert hik["http.request.method"] == "PUT" and hik["url.path"] == "/SDK/webLanguage"
    assert hik["@timestamp"] == "2026-11-20T02:03:10.123Z"
    assert hik["suricata.eve.alert.metadata.cve"] == '["CVE_2021_36260"]'
    assert mirai["rule.name"] == "ET SCAN Telnet login attempt (Mirai-like)"
    assert mirai["event.severity"] == 2 and mirai["network.protocol"] == "telnet"


def test_flow_dns_http_tls_fileinfo_anomaly_stats(events: list[Event]) -> None:
    flow = by_type(events, "flow")[1]
    assert flow["event.type"] == ["connection", "end"] and flow["network.transport"] == "tcp"
    assert (flow["source.bytes"], flow["destination.bytes"], flow["network.bytes"]) == (
        470,
        290,
        760,
    )
    assert flow["event.duration"] == 28_000_000 or abs(flow["event.duration"] - 28e6) < 1e3
    query, answer = by_type(events, "dns")
    assert query["dns.type"] == "query" and query["dns.question.name"].startswith("portal.")
    assert answer["dns.response_code"] == "NOERROR" and answer["dns.resolved_ip"] == ["10.10.0.20"]
    http = by_type(events, "http")[0]
    assert http["url.query"] == "ma=123" and http["http.response.status_code"] == 200
    assert http["http.version"] == "1.1"
    tls = by_type(events, "tls")[0]
    assert tls["tls.version"] == "1.3" and tls["tls.version_protocol"] == "tls"
    assert tls["tls.client.server_name"] == "portal.hochiminhcity.gov.vn.example"
    assert tls["tls.client.ja3"] == "cd08e31494f9531f560d64c695473da9"
    assert tls["tls.server.hash.sha1"] == "3A9C510E7B1D44C28F60AA135ED79021BC0F6E48"
    fileinfo = by_type(events, "fileinfo")[0]
    assert fileinfo["file.size"] == 73 and fileinfo["event.category"] == ["file"]
    anomaly = by_type(events, "anomaly")[0]
    assert anomaly["suricata.eve.anomaly.event"] == "stream.pkt_invalid_timestamp"
    stats = by_type(events, "stats")[0]
    assert stats["event.kind"] == "metric"
    assert stats["suricata.eve.stats.capture.kernel_packets"] == 250


def test_parse_line_rejects_with_reasons() -> None:
    stats = CollectorStats()
    assert eve.parse_eve_line("[1, 2]", HERE, stats) is None
    assert eve.parse_eve_line('{"event_type": "alert"}', HERE, stats) is None
    bad_time = '{"event_type": "dns", "timestamp": "yesterday"}'
    assert eve.parse_eve_line(bad_time, HERE, stats) is None
    assert eve.parse_eve_line("garbage", HERE, stats) is None
    assert stats.errors == Counter(
        {"eve-not-object": 1, "eve-missing-field": 1, "eve-bad-timestamp": 1, "eve-not-json": 1}
    )


def test_same_line_same_id() -> None:
    line = '{"timestamp": "2026-11-20T02:00:00.000000+0000", "event_type": "dns", "flow_id": 7}'
    first = eve.parse_eve_line(line, HERE, CollectorStats())
    second = eve.parse_eve_line(line, Location("other", line=9), CollectorStats())
    assert first is not None and second is not None
    assert first["event.id"] == second["event.id"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CollectorError):
        eve.read_eve(tmp_path / "none.json", CollectorStats())


def test_lines_in_small_batches_parse_as_the_whole_file(caplog: pytest.LogCaptureFixture) -> None:
    whole, parts, elsewhere = CollectorStats(), CollectorStats(), CollectorStats()
    expected = list(eve.read_eve(SAMPLE, whole))
    batches = list(eve.read_eve_lines(SAMPLE, parts, batch_lines=3))
    assert [b.first_line for b in batches] == [1, 4, 7, 10, 13]
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        got = [e for b in batches for e in eve.parse_lines(b, elsewhere)]  # as another process
    assert got == expected
    assert "eve.json, line 8: eve-not-json" in caplog.text
    parts.absorb(elsewhere)  # the counts another process sends back
    assert parts.summary() == whole.summary()


def test_reading_holds_one_batch_of_events_whatever_the_file_size(tmp_path: Path) -> None:
    """Memory stays bounded: a compiled build once held every event until the file's end."""
    golden = gzip.decompress(
        (Path(__file__).with_name("eve_golden") / "input.jsonl.gz").read_bytes()
    )
    enrich = enricher_for(BUNDLED_TOPOLOGY, "dic")
    stats = CollectorStats()

    def peak_reading(copies: int) -> int:
        eve_file = tmp_path / f"eve-{copies}.json"
        eve_file.write_bytes(golden * copies)
        tracemalloc.start()
        try:
            assert (
                sum(1 for event in eve.read_eve(eve_file, stats) if enrich(event)) > copies * 2000
            )
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak_reading(1)  # caches and interned names fill up first
    small, large = peak_reading(2), peak_reading(10)
    assert large < 1.5 * small, f"peak {small / 1e6:.1f} MB for 2 copies, {large / 1e6:.1f} for 10"


def test_lines_of_a_followed_file_are_placed_by_byte_offset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = SAMPLE.read_bytes().splitlines()[0]
    batch = RawLines(eve.PARSER, "eve.json", 0, [good, b"{oops", good], [0, 812, 818])
    stats = CollectorStats()
    assert len(eve.parse_lines(batch, stats)) == 2
    assert stats.errors == Counter({"eve-not-json": 1})
    assert "eve.json, byte 812: eve-not-json" in caplog.text
