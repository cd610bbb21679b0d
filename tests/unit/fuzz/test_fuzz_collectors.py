"""Fuzzing each collector parser from the bundled samples: the pcap reader with the packet
engine, the HTTP/RTSP, Modbus, Telnet and SSH sessions, DNS, EVE and syslog. Any exception
but a counted error, or any input over 100 ms, fails. Budget: see this folder's conftest."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from citysoc.core.errors import CollectorError, Location
from collectors.packets.dns import dns_fields
from collectors.packets.flows import SESSIONS
from collectors.packets.pcap import PacketEngine
from collectors.sources.eve import parse_eve_bytes
from collectors.sources.pcapfile import iter_records, iter_stream_records
from collectors.sources.syslog import parse_syslog
from collectors.stats import CollectorStats
from tests.unit.fuzz.mutation import FUZZ, mutated, within_budget

SAMPLES = Path(__file__).resolve().parents[3] / "collectors" / "samples"
HERE = Location("fuzz", line=1)
SCALARS = (str, int, float, bool)
RECORDS = list(iter_records(SAMPLES / "demo-city.pcap", CollectorStats()))
PCAP_HEADER = (SAMPLES / "demo-city.pcap").read_bytes()[:24]


def _record(data: bytes, n: int) -> bytes:
    return struct.pack("<IIII", 1795658400 + n, 0, len(data), len(data)) + data


# small captures: windows of 24 consecutive records of the demo capture
PCAP_SEEDS = [
    PCAP_HEADER + b"".join(_record(r.data, n) for n, r in enumerate(RECORDS[i : i + 24]))
    for i in range(0, len(RECORDS), 24)
]
EVE_SEEDS = [line for line in (SAMPLES / "eve.json").read_bytes().splitlines() if line]
SYSLOG_SEEDS = [line for line in (SAMPLES / "syslog.log").read_bytes().splitlines() if line]
STREAM_SEEDS = {
    "http": (
        b"POST /login?password=x HTTP/1.1\r\nHost: cam\r\nContent-Length: 5\r\n\r\nu=a&p"
        b"GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46eA==\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
    ),
    "rtsp": (
        b"SETUP rtsp://10.31.0.21/s RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;client_port=6970-6971"
        b"\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP;client_port=6970-6971;"
        b"server_port=5000-5001\r\n\r\n",
    ),
    "telnet": (
        b"\xff\xfb\x18root\r\nxc3511\r\n",
        b"\xff\xfd\x18BusyBox\r\nlogin: Password: \r\n~ # ",
    ),
    "ssh": (b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(64), b"SSH-2.0-dropbear_2020.81\r\n" + bytes(64)),
    "modbus": (
        bytes.fromhex("000100000006011000010001") + bytes.fromhex("0002000000060106000a00ff"),
        bytes.fromhex("000100000006011000010001") + bytes.fromhex("000200000003018602"),
    ),
}
DNS_SEEDS = [
    r.data[42:] for r in RECORDS if len(r.data) > 42 and r.data[34:38].find(b"\x00\x35") >= 0
]


def flat(events: list[dict[str, object]]) -> None:
    """Dotted names with scalar values, or arrays of scalars where ECS has arrays."""
    for event in events:
        for value in event.values():
            values = value if isinstance(value, list) else [value]
            assert all(isinstance(v, SCALARS) for v in values), event
        json.dumps(event, ensure_ascii=False).encode("utf-8")


@FUZZ
@given(mutated(PCAP_SEEDS))
def test_pcap_reader_and_packet_engine(capture: bytes) -> None:
    def read() -> list[dict[str, object]]:
        stats = CollectorStats()
        try:
            records = iter_stream_records(io.BytesIO(capture), "fuzz.pcap", stats)
        except CollectorError:
            return []  # not a pcap: refused with its location
        return list(PacketEngine(stats).events(records))

    flat(within_budget(read))


@FUZZ
@given(
    st.sampled_from(sorted(STREAM_SEEDS)),
    st.data(),
)
def test_tcp_sessions(protocol: str, data: st.DataObject) -> None:
    client, server = STREAM_SEEDS[protocol]
    turns = [
        (data.draw(mutated([client])), data.draw(mutated([server])))
        for _ in range(data.draw(st.integers(1, 4)))
    ]

    def converse() -> list[dict[str, object]]:
        session = SESSIONS[protocol]()
        records = []
        for sent, answered in turns:
            records += session.client_data(sent, 1795658400.0)
            records += session.server_data(answered, 1795658400.1)
        records += session.finish()
        return [record.fields for record in records]

    flat(within_budget(converse))


@FUZZ
@given(mutated(DNS_SEEDS or [bytes(12)]))
def test_dns(payload: bytes) -> None:
    try:
        fields = within_budget(lambda: dns_fields(payload))
    except ValueError:
        return  # counted as undecodable-dns with the packet
    flat([fields])


@FUZZ
@given(mutated(EVE_SEEDS))
def test_eve(line: bytes) -> None:
    stats = CollectorStats()
    event = within_budget(lambda: parse_eve_bytes(line, HERE, stats))
    assert (event is None) == (stats.events == 0)
    if event is not None:
        flat([event])
    else:
        assert stats.errors or stats.skipped


@FUZZ
@given(mutated(SYSLOG_SEEDS))
def test_syslog(line: bytes) -> None:
    stats = CollectorStats()
    event = within_budget(lambda: parse_syslog(line, HERE, stats, received=1795658400.0))
    assert stats.events >= 1 and event["event.original"] is not None
    flat([event])
