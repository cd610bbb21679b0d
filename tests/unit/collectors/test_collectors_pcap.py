"""Capture files to ECS events: flows, RTSP, HTTP, DNS, Modbus; truncation and bad packets."""

from __future__ import annotations

import base64
import logging
import random
import struct
from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import PcapWriter

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from citysoc.core.errors import CollectorError
from collectors.packets.pcap import read_pcap
from collectors.packets.tcpstream import Stream
from collectors.stats import CollectorStats
from scenarios import generator

SAMPLES = generator.SAMPLES
DEMO = SAMPLES / "demo-city.pcap"
REQUIRED = (
    "@timestamp",
    "event.id",
    "event.kind",
    "event.category",
    "event.type",
    "event.dataset",
    "event.module",
    "ecs.version",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.transport",
)


@pytest.fixture(scope="module")
def demo() -> tuple[list[Event], CollectorStats]:
    stats = CollectorStats()
    return list(read_pcap(DEMO, stats)), stats


def of(events: list[Event], dataset: str) -> list[Event]:
    return [e for e in events if e["event.dataset"] == dataset]


def test_every_event_is_flat_complete_and_scalar(demo: tuple[list[Event], CollectorStats]) -> None:
    events, stats = demo
    assert stats.events == len(events) == 93
    assert stats.received == stats.parsed == 263
    assert stats.errors == Counter()
    for event in events:
        assert all(key in event for key in REQUIRED), event
        arrays = ("event.category", "event.type")  # ECS arrays; every other value a scalar
        assert all(
            isinstance(v, str | int | float | bool) for k, v in event.items() if k not in arrays
        )
        assert problems(event) == [], event
    assert len({e["event.id"] for e in events}) == len(events)


def test_ids_are_deterministic(demo: tuple[list[Event], CollectorStats]) -> None:
    again = list(read_pcap(DEMO, CollectorStats()))
    assert [e["event.id"] for e in again] == [e["event.id"] for e in demo[0]]


def test_flow_counts_and_fields(demo: tuple[list[Event], CollectorStats]) -> None:
    flows = of(demo[0], "network_traffic.flow")
    assert len(flows) == 53
    by_proto = Counter(f["network.protocol"] for f in flows)
    assert by_proto == {
        "telnet": 30,
        "rtsp": 10,
        "http": 4,
        "ws-discovery": 3,
        "dns": 3,
        "modbus": 2,
        "ssh": 1,
    }
    ssh = next(f for f in flows if f["network.protocol"] == "ssh")
    assert (ssh["source.ip"], ssh["destination.ip"], ssh["destination.port"]) == (
        "10.60.0.5",
        "10.10.1.5",
        22,
    )
    assert ssh["event.outcome"] == "success" and ssh["event.action"] == "network_flow"
    assert ssh["network.packets"] == ssh["source.packets"] + ssh["destination.packets"] == 14
    assert ssh["network.community_id"].startswith("1:")
    assert ssh["event.duration"] > 0 and ssh["event.type"] == "connection"


def test_rtsp_brute_force_is_eight_401s_without_passwords(
    demo: tuple[list[Event], CollectorStats],
) -> None:
    rtsp = of(demo[0], "network_traffic.rtsp")
    brute = [e for e in rtsp if e["source.ip"] == "203.0.113.50"]
    assert len(brute) == 8
    for event in brute:
        assert event["rtsp.response.status_code"] == 401
        assert event["rtsp.request.method"] == "DESCRIBE"
        assert event["user.name"] == "admin"
        assert event["event.outcome"] == "failure"
        assert event["user_agent.original"].startswith("LibVLC/3.0.8")
        assert event["destination.ip"] == "10.31.0.21" and event["destination.port"] == 554
    stamps = sorted(e["@timestamp"] for e in brute)
    assert stamps[0][:16] == stamps[-1][:16] == "2026-11-20T02:03"
    assert int(stamps[-1][17:19]) - int(stamps[0][17:19]) < 20
    benign = [e for e in rtsp if e["source.ip"] == "10.20.0.10"]
    assert len(benign) == 8 and {e["user.name"] for e in benign} == {"vms-svc"}
    assert {e["rtsp.request.method"] for e in benign} == {"OPTIONS", "DESCRIBE", "SETUP", "PLAY"}


def test_no_password_or_credential_token_anywhere(
    demo: tuple[list[Event], CollectorStats],
) -> None:
    secrets = [*generator.BRUTE_PASSWORDS, generator.VMS_PASSWORD]
    tokens = [base64.b64encode(f"admin:{p}".encode()).decode() for p in secrets]
    tokens.append(base64.b64encode(f"vms-svc:{generator.VMS_PASSWORD}".encode()).decode())
    for event in demo[0]:
        assert not any("authorization" in key.lower() for key in event)
        for value in event.values():
            text = str(value)
            assert not any(s in text for s in secrets + tokens), (value, event["event.dataset"])


def test_hikvision_exploit_request(demo: tuple[list[Event], CollectorStats]) -> None:
    put = [e for e in of(demo[0], "network_traffic.http") if e["http.request.method"] == "PUT"]
    assert len(put) == 1
    event = put[0]
    assert event["url.path"] == "/SDK/webLanguage"
    assert event["url.original"] == "/SDK/webLanguage"
    assert event["source.ip"] == "203.0.113.77" and event["destination.ip"] == "10.32.1.15"
    assert event["destination.port"] == 80
    assert event["http.response.status_code"] == 500 and event["event.outcome"] == "failure"
    assert "$(id>webLib/x)" in event["http.request.body.content"]
    assert event["http.request.body.bytes"] == len(generator.EXPLOIT_BODY)


def test_operator_http_requests(demo: tuple[list[Event], CollectorStats]) -> None:
    gets = [e for e in of(demo[0], "network_traffic.http") if e["http.request.method"] == "GET"]
    assert len(gets) == 3
    for event in gets:
        assert event["url.path"] == "/dich-vu-cong" and event["url.query"] == "ma=123"
        assert event["url.original"] == "/dich-vu-cong?ma=123"
        assert event["http.response.status_code"] == 200
        assert event["user_agent.original"].startswith("Mozilla/5.0")
        assert event["destination.ip"] == "10.10.0.20"
        assert event["event.category"] == "web"


def test_telnet_scan_flows(demo: tuple[list[Event], CollectorStats]) -> None:
    scan = [
        e
        for e in of(demo[0], "network_traffic.flow")
        if e["source.ip"] == "10.32.0.66" and e["destination.port"] == 23
    ]
    assert len(scan) == 30
    assert len({e["destination.ip"] for e in scan}) == 30
    assert Counter(e["event.outcome"] for e in scan) == {"failure": 28, "success": 2}
    assert all(e["network.protocol"] == "telnet" for e in scan)
    refused = [e for e in scan if e["destination.packets"] == 1]
    assert len(refused) == 4


def test_rtp_media_is_skipped_and_counted(demo: tuple[list[Event], CollectorStats]) -> None:
    _, stats = demo
    assert stats.skipped["rtp-media"] == 42
    udp = [e for e in demo[0] if e["network.transport"] == "udp"]
    assert {e["network.protocol"] for e in udp} == {"dns", "ws-discovery"}


def test_rtp_media_is_kept_on_request() -> None:
    stats = CollectorStats()
    events = list(read_pcap(DEMO, stats, include_media=True))
    media = [e for e in of(events, "network_traffic.flow") if e["network.transport"] == "udp"]
    assert stats.skipped["rtp-media"] == 0
    control = (53, 3702)
    assert sum(e["network.packets"] for e in media if e["destination.port"] not in control) == 42


def test_modbus_reads(demo: tuple[list[Event], CollectorStats]) -> None:
    modbus = [e for e in of(demo[0], "network_traffic.modbus") if e["source.ip"] == "10.20.0.30"]
    assert len(modbus) == 5
    for event in modbus:
        assert event["modbus.function_code"] == 3
        assert event["modbus.unit_id"] == 1
        assert event["event.outcome"] == "success"
        assert (event["source.ip"], event["destination.ip"], event["destination.port"]) == (
            "10.20.0.30",
            "10.40.0.5",
            502,
        )
    assert sorted(e["modbus.transaction_id"] for e in modbus) == [1, 2, 3, 4, 5]


def test_dns_queries_and_answers(demo: tuple[list[Event], CollectorStats]) -> None:
    dns = of(demo[0], "network_traffic.dns")
    assert Counter(e["dns.type"] for e in dns) == {"query": 3, "answer": 3}
    for event in dns:
        assert event["dns.question.name"] == generator.PORTAL_NAME
        assert event["dns.question.type"] == "A"
        assert event["source.ip"] == "10.20.0.10" and event["destination.ip"] == "10.50.0.53"
    answers = [e for e in dns if e["dns.type"] == "answer"]
    assert {e["dns.response_code"] for e in answers} == {"NOERROR"}
    assert {e["dns.resolved_ip"] for e in answers} == {"10.10.0.20"}
    queries = {e["dns.id"] for e in dns if e["dns.type"] == "query"}
    assert queries == {e["dns.id"] for e in answers}


def test_truncated_pcap(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cut = tmp_path / "cut.pcap"
    kept = generator.write_truncated_pcap(DEMO, cut)
    stats = CollectorStats()
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        events = list(read_pcap(cut, stats))
    assert stats.received == kept
    assert stats.errors == Counter({"truncated-pcap": 1})
    offset = generator.pcap_records(cut.read_bytes())[-1]
    assert f"record {kept + 1}, byte {offset[0] + offset[1]}" in caplog.text
    assert len(of(events, "network_traffic.modbus")) == 5
    assert len(of(events, "network_traffic.dns")) == 6
    assert len(of(events, "network_traffic.wsdiscovery")) == 3
    bundled = list(read_pcap(SAMPLES / "demo-city-truncated.pcap", CollectorStats()))
    assert [e["event.id"] for e in bundled] == [e["event.id"] for e in events]


def _write(path: Path, frames: list[bytes]) -> None:
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, data in enumerate(frames):
            out.write(struct.pack("<IIII", 1795658400 + n, 0, len(data), len(data)) + data)


def test_corrupt_packets_are_counted_not_fatal(tmp_path: Path) -> None:
    eth = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"))[:12]
    good = generator.tcp_conversation(
        ("10.20.0.10", 40000),
        ("10.31.0.11", 554),
        0.0,
        [],
        rng=random.Random(3),
        ending="refused",
    )
    arp = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(
        hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst="10.0.0.2"
    )
    bad_tcp = bytes(IP(src="10.0.0.1", dst="10.0.0.2", proto=6))[:20] + b"\x00" * 6
    frames = [
        eth + b"\x08\x00" + b"\x45\x00",  # IPv4 header cut short
        bytes(good[0]),
        eth + b"\x08\x00" + bad_tcp,  # TCP header of 6 bytes
        bytes(arp),
        b"\x01",  # not even an Ethernet header
        bytes(good[1]),
    ]
    path = tmp_path / "bad.pcap"
    _write(path, frames)
    stats = CollectorStats()
    events = list(read_pcap(path, stats))
    assert stats.errors == Counter(
        {"truncated-ipv4": 1, "truncated-tcp": 1, "truncated-ethernet": 1}
    )
    assert stats.skipped["non-ip"] == 1
    assert len(events) == 1 and events[0]["event.outcome"] == "failure"


def test_unreadable_files_raise_collector_error(tmp_path: Path) -> None:
    with pytest.raises(CollectorError) as missing:
        read_pcap(tmp_path / "absent.pcap", CollectorStats())
    assert "absent.pcap" in str(missing.value)
    text = tmp_path / "notes.pcap"
    text.write_text("this is not a capture\n")
    with pytest.raises(CollectorError, match="not a pcap file"):
        read_pcap(text, CollectorStats())


def test_credentials_in_urls_and_bodies_are_redacted(tmp_path: Path) -> None:
    request = (
        b"POST /login?user=op&password=Url-Secret-1 HTTP/1.1\r\nHost: portal\r\n"
        b"Authorization: Basic " + base64.b64encode(b"op.nguyen:Hdr-Secret-2") + b"\r\n"
        b"Content-Length: 38\r\n\r\nusername=op.nguyen&passwd=Body-Secret3"
    )
    reply = b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"
    pkts = generator.tcp_conversation(
        ("10.20.0.101", 40001),
        ("10.10.0.20", 80),
        1795658400.0,
        [("c", request), ("s", reply)],
        rng=random.Random(4),
    )
    path = tmp_path / "login.pcap"
    writer = PcapWriter(str(path), linktype=1)
    for pkt in pkts:
        writer.write(pkt)
    writer.close()
    events = list(read_pcap(path, CollectorStats()))
    http = of(events, "network_traffic.http")[0]
    assert http["user.name"] == "op.nguyen"
    assert http["url.query"] == "user=op&password=REDACTED"
    assert http["http.request.body.content"] == "username=op.nguyen&passwd=REDACTED"
    flat = " ".join(str(v) for e in events for v in e.values())
    assert "Secret" not in flat


def test_stream_reorders_and_drops_retransmissions() -> None:
    stream = Stream()
    stream.start(999)
    assert stream.feed(1000, b"abc") == b"abc"
    assert stream.feed(1006, b"ghi") == b""  # early: held
    assert stream.feed(1000, b"abc") == b""  # retransmission
    assert stream.feed(1002, b"cdef") == b"def" + b"ghi"  # overlap trimmed, hole filled


def test_an_unanswered_syn_is_reported_after_twenty_seconds_not_five_minutes() -> None:
    from scapy.layers.inet import TCP, UDP

    from collectors.packets.pcap import PacketEngine
    from scenarios.packetcraft import frame

    engine = PacketEngine(CollectorStats())
    syn = frame("10.31.0.50", "10.10.1.5", TCP(sport=40000, dport=3389, flags="S"), 1000.0)
    seen = list(engine.record(1, bytes(syn), 1000.0, len(syn), 1))
    for n, when in enumerate((1010.0, 1019.0, 1031.0)):  # other traffic keeps the clock going
        other = frame("10.20.0.10", "10.50.0.10", UDP(sport=5000 + n, dport=514), when)
        seen += engine.record(1, bytes(other), when, len(other), n + 2)
    flows = [e for e in seen if e["event.action"] == "network_flow"]
    assert [(f["destination.port"], f["event.outcome"]) for f in flows] == [(3389, "failure")]
