"""Hostile input to the collectors: bounded work per record, and one bad record never ends a run.

Each test is built from a reproducer of a crash or a blow-up found by trying the collectors
as an attacker whose packets or logs reach them would.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path

import pytest
from scapy.utils import PcapWriter

from citysoc.core import ecs
from citysoc.core.errors import Location
from collectors.packets.pcap import read_pcap
from collectors.packets.protocols import MEDIA_PORTS_MAX, TextSession
from collectors.packets.textproto import MessageParser
from collectors.sources.eve import eve_event_id, parse_eve_line, read_eve
from collectors.sources.syslog import parse_syslog, read_syslog_file
from collectors.stats import CollectorStats
from scenarios import generator

START = 1795658400.0
RECEIVED = 1795658400.0
HERE = Location("test", line=1)
CAMERA = ("10.32.1.9", 554)


def pcap_of(tmp_path: Path, turns: list[generator.Turn]) -> Path:
    pkts = generator.tcp_conversation(
        ("10.32.0.66", 41000), CAMERA, START, turns, rng=random.Random(1)
    )
    path = tmp_path / "capture.pcap"
    writer = PcapWriter(str(path), linktype=1)
    for pkt in pkts:
        writer.write(pkt)
    writer.close()
    return path


def setup_reply(transport: bytes) -> list[generator.Turn]:
    return [
        ("c", b"SETUP rtsp://10.32.1.9/live RTSP/1.0\r\nCSeq: 3\r\n\r\n"),
        ("s", b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: " + transport + b"\r\n\r\n"),
    ]


def test_a_huge_rtsp_port_range_is_refused_not_expanded(tmp_path: Path) -> None:
    path = pcap_of(tmp_path, setup_reply(b"RTP/AVP;unicast;client_port=0-1000000000"))
    assert path.stat().st_size < 1024  # the reproducer: a 768-byte capture
    stats = CollectorStats()
    tracemalloc.start()
    try:
        events = list(read_pcap(path, stats))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert stats.errors == {"rtsp-bad-media-port": 1}
    (rtsp,) = [e for e in events if e["event.dataset"] == "network_traffic.rtsp"]
    assert rtsp["rtsp.request.method"] == "SETUP"


@pytest.mark.parametrize(
    ("transport", "reason"),
    [
        (b"RTP/AVP;unicast;client_port=0-3000000", "rtsp-bad-media-port"),
        (b"RTP/AVP;unicast;client_port=1000-60000", "rtsp-media-range-too-wide"),
        (b"RTP/AVP;unicast;client_port=" + b"9" * 5000, "rtsp-bad-media-port"),
        (b"RTP/AVP;unicast;client_port=7000-6000", "rtsp-bad-media-port"),
    ],
)
def test_bad_transport_ranges_are_counted_with_their_packet(
    tmp_path: Path, transport: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    stats = CollectorStats()
    list(read_pcap(pcap_of(tmp_path, setup_reply(transport)), stats))
    assert stats.errors == {reason: 1}
    assert "capture.pcap, record" in caplog.text


def test_media_ports_of_one_session_are_capped() -> None:
    session = TextSession()
    for n in range(100):
        session._learn_media(f"RTP/AVP;client_port={6000 + 2 * n}-{6001 + 2 * n}")
    assert len(session.media_ports) == MEDIA_PORTS_MAX
    reasons = {reason for reason, _ in session.take_refused()}
    assert reasons == {"rtsp-too-many-media-ports"}
    assert session.take_refused() == []


def test_an_ordinary_setup_still_learns_rtp_and_rtcp() -> None:
    session = TextSession()
    session._learn_media("RTP/AVP;unicast;client_port=6970-6971;server_port=5000-5001")
    assert session.media_ports == {
        ("client_port", 6970), ("client_port", 6971),
        ("server_port", 5000), ("server_port", 5001),
    }  # fmt: skip
    assert session.take_refused() == []


def test_an_overlong_content_length_breaks_the_stream_not_the_run(tmp_path: Path) -> None:
    request = b"GET / HTTP/1.1\r\nHost: cam\r\nContent-Length: " + b"1" * 5000 + b"\r\n\r\n"
    path = pcap_of(tmp_path, [("c", request)])
    list(read_pcap(path, CollectorStats()))  # raised ValueError (int of 5,000 digits)
    parser = MessageParser("request")
    assert parser.feed(request, 0.0) == [] and parser.broken == "bad-content-length"


def test_a_huge_chunk_is_consumed_as_it_arrives() -> None:
    parser = MessageParser("response")
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n", 0.0)
    for _ in range(64):
        parser.feed(b"x" * 65536, 0.0)
    assert len(parser.buf) == 0 and parser.broken is None
    assert parser.feed(b"1" * 17 + b"\r\n", 0.0) == []


def test_chunked_bodies_split_anywhere_give_the_same_message() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    data = head + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    whole = MessageParser("response").feed(data, 0.0)
    parser = MessageParser("response")
    split = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1], 0.0)]
    assert [(m.body, m.body_length) for m in whole] == [(b"hello world", 11)]
    assert [(m.body, m.body_length) for m in split] == [(b"hello world", 11)]


def timed(line: bytes) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    event = parse_syslog(line, HERE, CollectorStats(), received=RECEIVED)
    return time.perf_counter() - started, event


@pytest.mark.parametrize(
    "line",
    [
        b"<38>Nov 20 02:10:01 cam1 HIKVISION: Remote: Login failed, User: " + b"A" * 60_000,
        b"<38>Nov 20 02:10:01 nvr1 DahuaNVR: " + b"Login User[" * 5_000,
        b"<38>Nov 20 02:10:01 vms1 vms-audit: " + b"a" * 60_000,
        b"<38>Nov 20 02:10:01 vms1 vms-audit: " + b'a="' * 20_000,
        b"<38>Nov 20 02:10:01 fw1 kernel: IN=eth0 OUT= SRC=10.0.0.1 " + b"a=b " * 15_000,
    ],
    ids=["hikvision", "dahua", "kv-word", "kv-quote", "firewall"],
)
def test_syslog_parsers_take_linear_time(line: bytes) -> None:
    seconds, event = timed(line)
    assert seconds < 0.1, f"{seconds:.3f} s for {len(line)} bytes"
    assert event["event.original"]


def test_hikvision_lines_still_parse() -> None:
    line = (
        b"<38>Nov 20 02:10:01 cam1 HIKVISION: [Operation] Remote: Login failed, "
        b"User: admin, IP: 203.0.113.50"
    )
    _, event = timed(line)
    assert (event["event.dataset"], event["user.name"]) == ("cctv.hikvision", "admin")
    assert (event["source.ip"], event["event.outcome"]) == ("203.0.113.50", "failure")


def test_a_huge_pid_or_port_is_left_out_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.write_bytes(
        b"<38>Nov 20 02:10:01 h sshd[" + b"1" * 4301 + b"]: x\n"
        b"<38>Nov 20 02:10:02 h sshd[12]: Failed password for root from 192.0.2.7 port "
        + b"9"
        * 5000
        + b"\n"
        b"<38>1 2026-11-20T02:10:03Z h sshd \xc2\xb2 - - x\n"
        b"<38>Nov 20 02:10:04 h sshd[13]: Accepted password for op from 192.0.2.8 port 22\n"
    )
    stats = CollectorStats()
    events = list(read_syslog_file(path, stats, received=RECEIVED))
    assert len(events) == stats.parsed == 4
    assert stats.errors == {"syslog-bad-pid": 1}  # counted with its line
    assert [e.get("process.pid") for e in events] == [None, 12, None, 13]
    assert events[0]["process.name"] == "sshd"
    assert "source.port" not in events[1] and events[1]["user.name"] == "root"
    assert events[3]["source.port"] == 22


EVE_SURROGATE = (
    '{"timestamp":"2026-11-20T02:00:09.000123+0000","event_type":"dns","flow_id":"\\ud800"}'
)


def test_a_lone_surrogate_in_eve_is_replaced_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    good = '{"timestamp":"2026-11-20T02:00:10.000000+0000","event_type":"dns","flow_id":7}'
    nested = (
        '{"timestamp":"2026-11-20T02:00:11.000000+0000","event_type":"dns",'
        '"dns":{"rrname":"a\\udc80b","answers":[{"rdata":"\\udfff"}]},"\\ud801k":1}'
    )
    path.write_text(f"{EVE_SURROGATE}\n{good}\n{nested}\n")
    stats = CollectorStats()
    events = list(read_eve(path, stats))
    assert len(events) == stats.parsed == 3 and stats.errors == {}
    for event in events:  # every value can be stored: valid UTF-8 throughout
        for name, value in event.items():
            name.encode("utf-8")
            if isinstance(value, str):
                value.encode("utf-8")
    assert events[0]["suricata.eve.flow_id"] == "\ufffd"
    assert events[2]["dns.question.name"] == "a\ufffdb"


def test_event_ids_hash_any_text() -> None:
    assert len(eve_event_id(RECEIVED, "\ud800", "line")) == 32
    assert len(ecs.event_id("x", "\ud800\udc80")) == 32
    # ids of text that always encoded stay as they were
    assert ecs.utf8("caf\udce9") == b"caf\xe9"
    assert parse_eve_line(EVE_SURROGATE, HERE, CollectorStats()) is not None
