"""RDP connection starts on the wire: crafted X.224 requests and confirms and an MCS Connect
Initial (built field by field from MS-RDPBCGR, T.125 and T.124 by scenarios.windowscraft) through
the real pcap path; the TLS that follows handed to the TLS decoder; hostile bytes counted with
their place, bounded, never fatal."""

from __future__ import annotations

import datetime as dt
import json
import random
import struct
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors.enrich import enricher_for
from collectors.packets.pcap import read_pcap
from collectors.packets.rdp import TPKT_MAX, RdpSession, protocol_names
from collectors.stats import CollectorStats
from scenarios import windowscraft as w
from scenarios.packetcraft import Capture, Turn, tcp_conversation

START = 1_795_660_000.0


def vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def tls_record(*messages: bytes) -> bytes:
    return b"\x16\x03\x03" + vec(b"".join(messages), 2)


def client_hello() -> bytes:
    body = (b"\x03\x03" + bytes(32) + vec(b"", 1) + vec(b"\xc0\x2f\xc0\x30", 2) + vec(b"\x00", 1)
            + vec(b"\xff\x01\x00\x01\x00", 2))  # fmt: skip
    return b"\x01" + vec(body, 3)


def server_flight(common_name: str) -> bytes:
    key = Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x2A)
            .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2026, 7, 1, tzinfo=dt.UTC)).sign(key, None))  # fmt: skip
    der = cert.public_bytes(serialization.Encoding.DER)
    hello = b"\x02" + vec(b"\x03\x03" + bytes(32) + vec(b"", 1) + b"\xc0\x2f\x00" + vec(b"", 2), 3)
    return tls_record(hello, b"\x0b" + vec(vec(vec(der, 3), 3), 3), b"\x0e\x00\x00\x00")


def run(
    tmp_path: Path, turns: list[Turn], *, client: str = "10.31.0.21", port: int = 3389
) -> tuple[list[Event], CollectorStats]:
    cap = Capture()
    cap.add(tcp_conversation((client, 49810), ("10.10.1.5", port), START, turns,
                             rng=random.Random(11)))  # fmt: skip
    path = tmp_path / "rdp.pcap"
    cap.write(path)
    stats = CollectorStats()
    enrich = enricher_for(BUNDLED_TOPOLOGY, "dic")
    events = [enrich(e) for e in read_pcap(path, stats)]
    for event in events:
        assert problems(event) == [], event  # ECS names, types and categories
        json.dumps(event)
    return [e for e in events if e["event.dataset"] != "network_traffic.flow"], stats


def test_credssp_connection_gives_cookie_user_protocols_and_the_tls_that_follows(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [
        ("c", w.connection_request(cookie="HCMC\\tran.b",
                                   protocols=w.PROTOCOL_SSL | w.PROTOCOL_HYBRID | 0x08)),
        ("s", w.connection_confirm(selected=w.PROTOCOL_HYBRID)),
        ("c", tls_record(client_hello())),
        ("s", server_flight("DC-APP-01.hcmc.example")),
    ]  # fmt: skip
    (rdp, tls), stats = run(tmp_path, turns)
    assert stats.errors == {}
    assert rdp["event.dataset"] == "network_traffic.rdp" and rdp["event.outcome"] == "success"
    assert (rdp["user.name"], rdp["user.domain"]) == ("tran.b", "HCMC")
    assert rdp["rdp.cookie"] == "HCMC\\tran.b" and rdp["related.user"] == ["tran.b"]
    assert rdp["rdp.requested_protocols"] == ["tls", "credssp", "credssp_early_user_auth"]
    assert rdp["rdp.selected_protocol"] == "credssp" and rdp["rdp.restricted_admin"] is False
    assert rdp["citysoc.source.kind"] == "camera"
    assert rdp["citysoc.destination.kind"] == "datacentre"
    assert tls["event.dataset"] == "network_traffic.tls" and tls["destination.port"] == 3389
    assert tls["tls.server.x509.subject.common_name"] == ["DC-APP-01.hcmc.example"]


def test_standard_security_gives_the_client_name_from_gcc_core_data(tmp_path: Path) -> None:
    turns: list[Turn] = [
        ("c", w.connection_request(cookie="admin", protocols=w.PROTOCOL_RDP)),
        ("s", w.connection_confirm(selected=w.PROTOCOL_RDP)),
        ("c", w.mcs_connect_initial("CAM-Q1-KIOSK", build=19045, layout=0x0000042A)),
    ]
    [rdp], stats = run(tmp_path, turns)
    assert stats.errors == {}
    assert rdp["rdp.requested_protocols"] == ["rdp"] and rdp["rdp.selected_protocol"] == "rdp"
    assert rdp["rdp.client.name"] == rdp["source.domain"] == "CAM-Q1-KIOSK"
    assert (rdp["rdp.client.build"], rdp["rdp.client.keyboard_layout"]) == (19045, "0x0000042a")
    assert rdp["rdp.client.version"] == "10.7"
    assert rdp["related.hosts"] == ["CAM-Q1-KIOSK"] and "user.domain" not in rdp


def test_negotiation_failure_and_restricted_admin(tmp_path: Path) -> None:
    turns: list[Turn] = [
        ("c", w.connection_request(cookie="x", protocols=w.PROTOCOL_SSL, flags=0x01)),
        ("s", w.connection_confirm(failure=5)),
    ]
    [rdp], _ = run(tmp_path, turns)
    assert rdp["event.outcome"] == "failure"
    assert rdp["rdp.negotiation_failure"] == rdp["event.reason"] == "HYBRID_REQUIRED_BY_SERVER"
    assert rdp["rdp.restricted_admin"] is True and "rdp.selected_protocol" not in rdp


def test_an_old_client_and_an_unanswered_request(tmp_path: Path) -> None:
    turns: list[Turn] = [("c", w.connection_request(routing_token="msts=3640205228.15629.0000",
                                                     protocols=None))]  # fmt: skip
    [rdp], _ = run(tmp_path, turns, port=33890)  # sniffed on another port
    assert rdp["event.outcome"] == "unknown" and rdp["rdp.requested_protocols"] == ["rdp"]
    assert rdp["rdp.routing_token"] == "msts=3640205228.15629.0000" and "user.name" not in rdp


def test_protocol_names() -> None:
    assert protocol_names(0) == ["rdp"]
    assert protocol_names(0x13) == ["tls", "credssp", "aad"]
    assert protocol_names(0x101) == ["tls", "0x00000100"]


def test_a_huge_tpkt_is_refused_and_bounded() -> None:
    session = RdpSession()
    session.client_data(b"\x03\x00\xff\xff" + b"A" * 10_000, 1.0)
    [(reason, detail)] = session.take_errors()
    assert reason == "rdp-malformed" and "65535 bytes" in detail and "client" in detail
    assert session.done and len(session.sides[0].buffer) <= TPKT_MAX + 10_004
    assert session.client_data(b"more", 1.1) == [] and session.finish() == []


@pytest.mark.parametrize(
    ("name", "tpdu", "expected"),
    [
        ("cookie without CRLF", b"\x7f\xe0\x00\x00\x12\x34\x00Cookie: mstshash=" + b"a" * 300,
         "no CRLF"),
        ("length indicator past the end", b"\x40\xe0\x00\x00\x12\x34\x00", "length indicator"),
        ("bad RDP_NEG_REQ length", b"\x0e\xe0\x00\x00\x12\x34\x00\x01\x00\x09\x00\x03\x00\x00\x00",
         "claims 9 bytes"),
        ("not a connection request", b"\x06\xd0\x00\x00\x12\x34\x00", "not an X.224"),
    ],
)  # fmt: skip
def test_malformed_requests_are_counted(name: str, tpdu: bytes, expected: str) -> None:
    session = RdpSession()
    assert session.client_data(w.tpkt(tpdu), 1.0) == []
    [(reason, detail)] = session.take_errors()
    assert reason == "rdp-malformed" and expected in detail and "stream byte 0" in detail, name
    assert session.finish() == []


def test_a_malformed_client_core_block_keeps_the_negotiation(tmp_path: Path) -> None:
    mcs = bytearray(w.mcs_connect_initial("WS"))
    at = mcs.find(b"\x01\xc0")
    struct.pack_into("<H", mcs, at + 2, 4000)  # the core block claims more than the PDU holds
    turns: list[Turn] = [("c", w.connection_request(cookie="op", protocols=0)),
                         ("s", w.connection_confirm(selected=0)), ("c", bytes(mcs))]  # fmt: skip
    [rdp], stats = run(tmp_path, turns)
    assert stats.errors == {"rdp-malformed": 1}
    assert rdp["user.name"] == "op" and "rdp.client.name" not in rdp


def test_a_request_cut_after_its_first_byte() -> None:
    session, request = RdpSession(), w.connection_request(cookie="op")
    session.client_data(request[:1], 1.0)
    session.client_data(request[1:], 1.0)
    [record] = session.finish()
    assert record.fields["user.name"] == "op"


def test_a_stream_that_is_not_rdp_is_left_alone() -> None:
    session = RdpSession()
    assert session.client_data(b"\x16\x03\x01\x00\x05hello", 1.0) == [] and session.done
    assert session.finish() == [] and session.take_errors() == []
