"""Fuzzing each collector parser from the bundled samples: the pcap reader with the packet
engine, every TCP session decoder (HTTP/RTSP, Modbus, DNP3, Telnet, SSH, TLS), DNS,
WS-Discovery, EVE and syslog. Any exception
but a counted error, or any input over 100 ms, fails. Budget: see this folder's conftest."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from citysoc.core.ecs_reference import reference
from citysoc.core.errors import CollectorError, Location
from collectors.packets.dns import dns_fields
from collectors.packets.flows import SESSIONS
from collectors.packets.pcap import PacketEngine
from collectors.packets.wsdiscovery import wsdiscovery_fields
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


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _tls_record(message: bytes) -> bytes:
    return b"\x16\x03\x03" + _vec(message, 2)


def _dnp3(sequence: int, function: int) -> bytes:
    """A DNP3 link frame (start, length, control, addresses, header CRC) and its user data."""
    user = bytes([0xC0 | sequence, 0xC0 | sequence, function, 0x3C, 0x02, 0x06])
    header = bytes([0x05, 0x64, 5 + len(user), 0xC4, 10, 0, 1, 0, 0, 0])
    return header + user + b"\x00\x00"


SNI = _vec(b"\x00" + _vec(b"cam.example.vn", 2), 2)
CLIENT_HELLO = b"\x01" + _vec(
    b"\x03\x03" + bytes(32) + _vec(bytes(32), 1) + _vec(b"\x13\x01\xc0\x2f", 2)
    + _vec(b"\x00", 1) + _vec(b"\x00\x00" + _vec(SNI, 2), 2),
    3,
)  # fmt: skip
SERVER_HELLO = b"\x02" + _vec(
    b"\x03\x03" + bytes(32) + _vec(b"", 1) + b"\xc0\x2f\x00" + _vec(b"", 2), 3
)
STREAM_SEEDS["tls"] = (_tls_record(CLIENT_HELLO), _tls_record(SERVER_HELLO))
STREAM_SEEDS["dnp3"] = (_dnp3(0, 1) + _dnp3(1, 5), _dnp3(0, 129))
WSD_SEEDS = [
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
    b"<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
    b"<a:MessageID>uuid:1</a:MessageID></s:Header><s:Body><d:Probe "
    b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><d:Types>dn:NetworkVideoTransmitter'
    b"</d:Types></d:Probe></s:Body></s:Envelope>",
]
DNS_SEEDS = [
    r.data[42:] for r in RECORDS if len(r.data) > 42 and r.data[34:38].find(b"\x00\x35") >= 0
]


def flat(events: list[dict[str, object]]) -> None:
    """Dotted names with scalar values; arrays only where ECS has an array field, objects only
    where it has an object field (``dns.answers``), their members scalars. Valid UTF-8."""
    ecs = reference()
    for event in events:
        for name, value in event.items():
            spec = ecs.spec(name)
            items = value if isinstance(value, list) else [value]
            assert not isinstance(value, list) or (spec is not None and spec.array), (name, event)
            for item in items:
                if isinstance(item, dict):
                    assert spec is not None and spec.type in ("object", "flattened"), (name, item)
                    assert all(isinstance(v, SCALARS) for v in item.values()), (name, item)
                else:
                    assert isinstance(item, SCALARS), (name, event)
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
@given(mutated(WSD_SEEDS))
def test_wsdiscovery(payload: bytes) -> None:
    try:
        fields = within_budget(lambda: wsdiscovery_fields(payload))
    except ValueError:
        return  # not a WS-Discovery message: counted with the packet
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
