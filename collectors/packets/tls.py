"""TLS handshakes read from the reassembled TCP streams of a connection.

From the client's first flight: the ClientHello (offered versions, cipher suites,
extensions, groups, point formats, signature algorithms, SNI, ALPN), its JA3 fingerprint
(MD5 of ``version,ciphers,extensions,groups,point formats`` in decimal, as the JA3
specification writes it) and its JA4 fingerprint (the FoxIO specification: protocol,
version, SNI or not, cipher and extension counts, first ALPN, then truncated SHA-256 of the
sorted cipher list and of the sorted extensions with the signature algorithms). From the
server's: the ServerHello (chosen version and cipher, ALPN, JA3S) and, up to TLS 1.2 where
it travels in clear, the server's certificate (subject, issuer, validity, serial, SHA-256).
GREASE values (RFC 8701) are left out everywhere, as both specifications require.

Work is bounded: each side buffers at most :data:`MAX_CLIENT` / :data:`MAX_SERVER` bytes,
and a stream that is not a TLS handshake is dropped at its first bytes. A malformed
message ends the parse of that side; what was read is kept.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass, field
from datetime import UTC

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord

log = logging.getLogger(__name__)

DATASET = "network_traffic.tls"
MAX_CLIENT = 16 * 1024  # a ClientHello, even with post-quantum key shares, fits
MAX_SERVER = 64 * 1024  # a ServerHello and a certificate chain
HANDSHAKE, CHANGE_CIPHER_SPEC, ALERT, APPLICATION_DATA = 22, 20, 21, 23
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE = 1, 2, 11, 14
SNI, GROUPS, POINT_FORMATS, SIGNATURE_ALGORITHMS, ALPN, SUPPORTED_VERSIONS = 0, 10, 11, 13, 16, 43
VERSIONS = {
    0x0300: ("ssl", "3.0", "s3"),
    0x0301: ("tls", "1.0", "10"),
    0x0302: ("tls", "1.1", "11"),
    0x0303: ("tls", "1.2", "12"),
    0x0304: ("tls", "1.3", "13"),
}
CIPHERS = {  # IANA names of the suites seen in practice; others are written as 0xNNNN
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
}


class HandshakeParseError(ValueError):
    """A handshake message that does not parse."""


def grease(value: int) -> bool:
    """RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def cipher_name(value: int) -> str:
    return CIPHERS.get(value, f"0x{value:04x}")


class Reader:
    """Big-endian fields of one message, refusing to read past its end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            have = len(self.data) - self.at
            raise HandshakeParseError(f"needs {n} bytes at {self.at}, has {have}")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u24(self) -> int:
        high, low = struct.unpack(">BH", self.take(3))
        return int(high) << 16 | int(low)

    def vector(self, length_bytes: int) -> Reader:
        size = {1: self.u8, 2: self.u16, 3: self.u24}[length_bytes]()
        return Reader(self.take(size))

    def u16s(self) -> list[int]:
        return [self.u16() for _ in range(len(self.data) // 2)]

    @property
    def left(self) -> int:
        return len(self.data) - self.at


@dataclass
class Hello:
    """What a ClientHello or ServerHello says; ``ciphers`` is one value in a ServerHello."""

    version: int
    ciphers: list[int]
    extensions: list[int]
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)
    server_name: str | None = None
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  # supported_versions (client: offered)


def _extensions(reader: Reader, hello: Hello, *, client: bool) -> None:
    if reader.left == 0:
        return
    block = reader.vector(2)
    while block.left:
        kind, body = block.u16(), block.vector(2)
        hello.extensions.append(kind)
        if kind == SNI and client:
            hello.server_name = _server_name(body.data)
        elif kind == GROUPS and client:
            hello.groups = body.vector(2).u16s()
        elif kind == POINT_FORMATS and client:
            hello.point_formats = list(body.vector(1).data)
        elif kind == SIGNATURE_ALGORITHMS and client:
            hello.signature_algorithms = body.vector(2).u16s()
        elif kind == ALPN:
            protocols = body.vector(2)
            while protocols.left:
                hello.alpn.append(protocols.vector(1).data.decode("ascii", "replace"))
        elif kind == SUPPORTED_VERSIONS:
            hello.versions = body.vector(1).u16s() if client else [body.u16()]


def _server_name(body: bytes) -> str | None:
    """The first host_name of a server_name extension (RFC 6066)."""
    names = Reader(body).vector(2)
    while names.left:
        name_type, name = names.u8(), names.vector(2).data
        if name_type == 0:
            return name.decode("ascii", "replace").rstrip(".")  # A-labels (RFC 6066)
    return None


def parse_client_hello(body: bytes) -> Hello:
    reader = Reader(body)
    version = reader.u16()
    reader.take(32)  # random
    reader.vector(1)  # session id
    ciphers = reader.vector(2).u16s()
    reader.vector(1)  # compression methods
    hello = Hello(version=version, ciphers=ciphers, extensions=[])
    _extensions(reader, hello, client=True)
    return hello


def parse_server_hello(body: bytes) -> Hello:
    reader = Reader(body)
    version = reader.u16()
    reader.take(32)
    reader.vector(1)
    cipher = reader.u16()
    reader.u8()  # compression method
    hello = Hello(version=version, ciphers=[cipher], extensions=[])
    _extensions(reader, hello, client=False)
    return hello


def ja3_string(hello: Hello) -> str:
    def join(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not grease(v))

    return ",".join(
        [str(hello.version), join(hello.ciphers), join(hello.extensions),
         join(hello.groups), join(hello.point_formats)]
    )  # fmt: skip


def ja3s_string(hello: Hello) -> str:
    ext = "-".join(str(v) for v in hello.extensions if not grease(v))
    return f"{hello.version},{hello.ciphers[0]},{ext}"


def _alpn_mark(alpn: list[str]) -> str:
    if not alpn or not alpn[0]:
        return "00"
    first, last = alpn[0][0], alpn[0][-1]
    if first.isascii() and first.isalnum() and last.isascii() and last.isalnum():
        return first + last
    raw = alpn[0].encode("utf-8", "replace")
    return f"{raw[0]:02x}"[0] + f"{raw[-1]:02x}"[-1]


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "0" * 12


def ja4(hello: Hello) -> str:
    """The JA4 fingerprint of a ClientHello seen over TCP."""
    offered = [v for v in hello.versions if not grease(v)]
    version = VERSIONS.get(max(offered) if offered else hello.version, ("", "", "00"))[2]
    ciphers = [c for c in hello.ciphers if not grease(c)]
    extensions = [e for e in hello.extensions if not grease(e)]
    a = (
        f"t{version}{'d' if SNI in extensions else 'i'}{min(len(ciphers), 99):02d}"
        f"{min(len(extensions), 99):02d}{_alpn_mark(hello.alpn)}"
    )
    b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers)))
    rest = ",".join(f"{e:04x}" for e in sorted(extensions) if e not in (SNI, ALPN))
    algorithms = ",".join(f"{s:04x}" for s in hello.signature_algorithms if not grease(s))
    c = _sha12(f"{rest}_{algorithms}" if algorithms else rest)
    return f"{a}_{b}_{c}"


def _name_fields(prefix: str, name: x509.Name) -> Event:
    out: Event = {f"{prefix}.distinguished_name": name.rfc4514_string()}
    for oid, leaf in (
        (NameOID.COMMON_NAME, "common_name"),
        (NameOID.ORGANIZATION_NAME, "organization"),
        (NameOID.COUNTRY_NAME, "country"),
    ):
        values = [str(a.value) for a in name.get_attributes_for_oid(oid)]
        if values:
            out[f"{prefix}.{leaf}"] = values
    return out


def certificate_fields(der: bytes) -> Event:
    """ECS ``tls.server.*`` fields of a DER certificate; empty if it does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
        before = cert.not_valid_before_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        after = cert.not_valid_after_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        fields: Event = {
            "tls.server.subject": cert.subject.rfc4514_string(),
            "tls.server.issuer": cert.issuer.rfc4514_string(),
            "tls.server.not_before": before,
            "tls.server.not_after": after,
            "tls.server.hash.sha256": cert.fingerprint(hashes.SHA256()).hex().upper(),
            "tls.server.x509.serial_number": f"{cert.serial_number:X}",
            "tls.server.x509.not_before": before,
            "tls.server.x509.not_after": after,
        }
        fields |= _name_fields("tls.server.x509.subject", cert.subject)
        fields |= _name_fields("tls.server.x509.issuer", cert.issuer)
        return fields
    except ValueError as exc:  # cryptography's refusal of a malformed certificate
        log.debug("unparsable server certificate: %s", exc)
        return {}


@dataclass
class _Side:
    """One direction's bytes and the handshake messages read from them so far."""

    limit: int
    buffer: bytearray = field(default_factory=bytearray)
    handshake: bytearray = field(default_factory=bytearray)  # handshake records' payloads
    read_records: int = 0  # bytes of ``buffer`` consumed as whole records
    read_messages: int = 0  # bytes of ``handshake`` consumed as whole messages
    closed: bool = False  # not TLS, malformed, past the limit, or past the handshake

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """New whole handshake messages ``(type, body)``."""
        if self.closed:
            return []
        room = self.limit - len(self.buffer)
        self.buffer += data[:room]
        if room < len(data):
            self.closed = True
        messages: list[tuple[int, bytes]] = []
        while len(self.buffer) - self.read_records >= 5:
            kind, _version, length = struct.unpack_from(">BHH", self.buffer, self.read_records)
            if kind not in (HANDSHAKE, CHANGE_CIPHER_SPEC, ALERT, APPLICATION_DATA):
                self.closed = True
                break
            end = self.read_records + 5 + length
            if end > len(self.buffer):
                break
            if kind != HANDSHAKE:  # encrypted from here on
                self.closed = True
                break
            self.handshake += self.buffer[self.read_records + 5 : end]
            self.read_records = end
        while len(self.handshake) - self.read_messages >= 4:
            at = self.read_messages
            kind = self.handshake[at]
            length = int.from_bytes(self.handshake[at + 1 : at + 4], "big")
            if at + 4 + length > len(self.handshake):
                break
            messages.append((kind, bytes(self.handshake[at + 4 : at + 4 + length])))
            self.read_messages = at + 4 + length
        return messages


@dataclass
class TlsSession:
    """The handshake of one TCP connection: one ``network_traffic.tls`` record."""

    client: _Side = field(default_factory=lambda: _Side(MAX_CLIENT))
    server: _Side = field(default_factory=lambda: _Side(MAX_SERVER))
    hello: Hello | None = None
    answer: Hello | None = None
    certificate: Event = field(default_factory=dict)
    first_seen: float = 0.0
    done: bool = False
    errors: list[str] = field(default_factory=list)

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        if self.done or self.hello is not None:
            return []
        if not self.client.buffer and data[:1] != bytes([HANDSHAKE]):
            self.done = True  # not TLS: nothing to report
            return []
        for kind, body in self.client.feed(data):
            if kind == CLIENT_HELLO and self.hello is None:
                try:
                    self.hello = parse_client_hello(body)
                    self.first_seen = when
                except HandshakeParseError as exc:
                    self.errors.append(f"ClientHello: {exc}")
                    self.client.closed = True
        return []

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        if self.done or self.hello is None:
            return []
        for kind, body in self.server.feed(data):
            try:
                if kind == SERVER_HELLO and self.answer is None:
                    self.answer = parse_server_hello(body)
                elif kind == CERTIFICATE and not self.certificate:
                    chain = Reader(body).vector(3)
                    if chain.left:
                        self.certificate = certificate_fields(chain.vector(3).data)
                    return [self._record()]
                elif kind == SERVER_HELLO_DONE:
                    return [self._record()]
            except HandshakeParseError as exc:
                self.errors.append(f"server handshake: {exc}")
                return [self._record()]
        if self.answer is not None and (self._tls13() or self.server.closed):
            return [self._record()]  # the rest is encrypted
        return []

    def finish(self) -> list[AppRecord]:
        if self.done or self.hello is None:
            return []
        return [self._record()]

    def _tls13(self) -> bool:
        return self.answer is not None and 0x0304 in self.answer.versions

    def _record(self) -> AppRecord:
        self.done = True
        assert self.hello is not None
        hello, answer = self.hello, self.answer
        ja3 = ja3_string(hello)
        fields: Event = {
            "event.category": "network",
            "event.type": "protocol",
            "event.action": "tls_handshake",
            "network.protocol": "tls",
            "tls.established": answer is not None,
            "tls.client.ja3": hashlib.md5(ja3.encode(), usedforsecurity=False).hexdigest(),
            "tls.client.supported_ciphers": [
                cipher_name(c) for c in hello.ciphers if not grease(c)
            ][:64],
            "citysoc.tls.client.ja3_string": ja3[:2048],
            "citysoc.tls.client.ja4": ja4(hello),
            "event.outcome": "success" if answer is not None else "unknown",
        }
        if hello.server_name:
            fields["tls.client.server_name"] = hello.server_name
            fields["destination.domain"] = hello.server_name
        if answer is not None:
            chosen = answer.versions[0] if answer.versions else answer.version
            protocol, number, _ = VERSIONS.get(chosen, ("tls", f"0x{chosen:04x}", ""))
            fields |= {
                "tls.version": number,
                "tls.version_protocol": protocol,
                "tls.cipher": cipher_name(answer.ciphers[0]),
                "tls.server.ja3s": hashlib.md5(
                    ja3s_string(answer).encode(), usedforsecurity=False
                ).hexdigest(),
            }
            if answer.alpn:
                fields["tls.next_protocol"] = answer.alpn[0]
        if self.errors:
            fields["citysoc.tls.errors"] = self.errors[:4]
        return AppRecord(DATASET, self.first_seen, fields | self.certificate)
