"""TLS handshakes on the wire: ClientHello fingerprints checked against published values,
ServerHello and certificate fields, a TLS 1.3 and a TLS 1.2 connection through the packet
engine, and hostile bytes that end the parse without losing the connection's flow."""

from __future__ import annotations

import datetime as dt
import random
import struct
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from citysoc.core.ecs_reference import problems
from collectors.packets.pcap import read_pcap
from collectors.packets.tls import (
    TlsSession,
    ja3_string,
    ja4,
    parse_client_hello,
)
from collectors.stats import CollectorStats
from scenarios.packetcraft import Capture, tcp_conversation

GREASE_A, GREASE_B = 0x0A0A, 0x3A3A
# A browser's ClientHello as published with its fingerprints (cipher, extension, group and
# signature-algorithm lists in wire order); GREASE values added where browsers put them.
CIPHERS = [4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156,
           157, 47, 53]  # fmt: skip
EXTENSIONS = [45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27]
GROUPS = [4588, 29, 23, 24]
SIGNATURES = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
JA3 = "98487aa16281980e7d1120d399efb6a4"
JA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def extension(kind: int, sni: str) -> bytes:
    body = {
        0: vec(b"\x00" + vec(sni.encode(), 2), 2),
        10: vec(b"".join(map(u16, [GREASE_B, *GROUPS])), 2),
        11: vec(b"\x00", 1),
        13: vec(b"".join(map(u16, SIGNATURES)), 2),
        16: vec(vec(b"h2", 1) + vec(b"http/1.1", 1), 2),
        43: vec(b"".join(map(u16, [GREASE_A, 0x0304, 0x0303])), 1),
    }.get(kind, b"")
    return u16(kind) + vec(body, 2)


def client_hello(sni: str = "tls.example.vn") -> bytes:
    kinds = [GREASE_A, *EXTENSIONS, GREASE_B]
    body = (u16(0x0303) + bytes(32) + vec(bytes(32), 1)
            + vec(b"".join(map(u16, [GREASE_A, *CIPHERS])), 2) + vec(b"\x00", 1)
            + vec(b"".join(extension(k, sni) for k in kinds), 2))  # fmt: skip
    return b"\x01" + vec(body, 3)


def server_hello(cipher: int, *, tls13: bool) -> bytes:
    extensions = (u16(43) + vec(u16(0x0304), 2) + u16(51) + vec(bytes(36), 2) if tls13
                  else u16(16) + vec(vec(vec(b"h2", 1), 2), 2))  # fmt: skip
    body = u16(0x0303) + bytes(32) + vec(b"", 1) + u16(cipher) + b"\x00" + vec(extensions, 2)
    return b"\x02" + vec(body, 3)


def record(*messages: bytes, kind: int = 22) -> bytes:
    payload = b"".join(messages)
    return bytes([kind]) + u16(0x0303) + vec(payload, 2)


def certificate() -> tuple[bytes, x509.Certificate]:
    key = Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.hcmc.example"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sở TT&TT")])  # fmt: skip
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(0x55FBB9C7DEBF0980)
            .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
            .sign(key, None))  # fmt: skip
    der = cert.public_bytes(serialization.Encoding.DER)
    return b"\x0b" + vec(vec(vec(der, 3), 3), 3), cert


def test_fingerprints_match_the_published_values() -> None:
    hello = parse_client_hello(client_hello()[4:])
    assert ja3_string(hello) == (
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
    )
    assert ja4(hello) == JA4
    assert hello.server_name == "tls.example.vn" and hello.alpn == ["h2", "http/1.1"]


def test_a_tls13_handshake_split_across_segments() -> None:
    session = TlsSession()
    hello = record(client_hello())
    assert session.client_data(hello[:7], 1.0) == [] and session.client_data(hello[7:], 1.0) == []
    [done] = session.server_data(record(server_hello(0x1301, tls13=True)), 1.1)
    fields = done.fields
    assert done.dataset == "network_traffic.tls"
    assert (fields["tls.version"], fields["tls.version_protocol"]) == ("1.3", "tls")
    assert fields["tls.cipher"] == "TLS_AES_128_GCM_SHA256"
    assert fields["tls.client.ja3"] == JA3 and fields["citysoc.tls.client.ja4"] == JA4
    assert fields["tls.client.server_name"] == fields["destination.domain"] == "tls.example.vn"
    assert "TLS_CHACHA20_POLY1305_SHA256" in fields["tls.client.supported_ciphers"]
    assert session.finish() == []  # one record per connection


def test_a_tls12_handshake_gives_the_server_certificate() -> None:
    cert_message, cert = certificate()
    session = TlsSession()
    session.client_data(record(client_hello()), 1.0)
    flight = record(server_hello(0xC02F, tls13=False), cert_message, b"\x0e\x00\x00\x00")
    [done] = session.server_data(flight, 1.2)
    fields = done.fields
    assert fields["tls.version"] == "1.2" and fields["tls.next_protocol"] == "h2"
    assert fields["tls.cipher"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert fields["tls.server.x509.serial_number"] == "55FBB9C7DEBF0980"
    assert fields["tls.server.x509.subject.common_name"] == ["portal.hcmc.example"]
    assert fields["tls.server.x509.issuer.organization"] == ["Sở TT&TT"]
    assert fields["tls.server.not_after"] == "2027-01-01T00:00:00.000Z"
    assert fields["tls.server.hash.sha256"] == cert.fingerprint(hashes.SHA256()).hex().upper()


def test_hostile_bytes_end_the_parse_not_the_connection() -> None:
    broken = TlsSession()
    hello = bytearray(record(client_hello()))
    hello[9 + 2 + 32] = 200  # a session id longer than the message
    broken.client_data(bytes(hello), 1.0)
    assert broken.finish() == [] and broken.client.closed
    huge = TlsSession()
    huge.client_data(b"\x16\x03\x03\xff\xff" + b"A" * 70_000, 1.0)  # capped, never grows
    assert len(huge.client.buffer) <= 16 * 1024
    plain = TlsSession()
    assert plain.client_data(b"GET / HTTP/1.1\r\n\r\n", 1.0) == [] and plain.done


def test_the_packet_engine_reports_tls_on_443_and_sniffs_it_elsewhere(tmp_path: Path) -> None:
    cert_message, _cert = certificate()
    rng = random.Random(3)
    cap = Capture()
    turns = [("c", record(client_hello("portal.hcmc.example"))),
             ("s", record(server_hello(0xC02F, tls13=False), cert_message,
                          b"\x0e\x00\x00\x00"))]  # fmt: skip
    cap.add(tcp_conversation(("10.20.0.50", 51000), ("10.10.0.20", 443), 1_795_660_000.0,
                             turns, rng=rng))  # fmt: skip
    cap.add(tcp_conversation(("10.31.0.21", 51001), ("203.0.113.9", 9443), 1_795_660_001.0,
                             turns, rng=rng))  # fmt: skip
    path = tmp_path / "tls.pcap"
    cap.write(path)
    events = list(read_pcap(path, CollectorStats()))
    tls = [e for e in events if e.get("event.dataset") == "network_traffic.tls"]
    assert [e["destination.port"] for e in tls] == [443, 9443]
    assert {e["tls.client.server_name"] for e in tls} == {"portal.hcmc.example"}
    assert all(e["tls.server.x509.subject.common_name"] == ["portal.hcmc.example"] for e in tls)
    assert [problems(e) for e in tls] == [[], []]  # ECS names, types and categories
