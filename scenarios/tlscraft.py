"""TLS ClientHellos of the city's devices and of common tools, for test and demo captures.

Each client is the list of what its ClientHello offers (version, cipher suites, extensions
in wire order, groups, signature algorithms, ALPN), written byte for byte per RFC 8446
section 4.1.2; the server answers with a ServerHello choosing the first cipher. What a
fingerprint is made of is left to the decoder (``collectors/packets/tls.py``): the known
fingerprints kept in the rules are what that decoder computes from these captures.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scenarios.packetcraft import Turn

SNI, GROUPS, POINT_FORMATS, SIGNATURES, ALPN, VERSIONS = 0, 10, 11, 13, 16, 43


@dataclass(frozen=True)
class Client:
    """What one TLS client offers in its ClientHello."""

    name: str
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]  # wire order; SNI and ALPN are sent only when given
    groups: tuple[int, ...] = (29, 23, 24)
    signatures: tuple[int, ...] = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0601)
    alpn: tuple[str, ...] = ()
    tls13: bool = False


# An IP camera's firmware (an embedded TLS 1.2 library): its cloud and update clients.
CAMERA_FIRMWARE = Client(
    "camera-firmware",
    ciphers=(0xC02B, 0xC02F, 0xC02C, 0xC030, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F),
    extensions=(SNI, GROUPS, POINT_FORMATS, SIGNATURES, 23, 65281),
)
# The NVRs of the camera networks: TLS 1.3 capable, pushing events to the VMS over HTTPS.
NVR_FIRMWARE = Client(
    "nvr-firmware",
    ciphers=(0x1301, 0x1302, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8),
    extensions=(SNI, 65281, GROUPS, POINT_FORMATS, 35, ALPN, 23, SIGNATURES, 51, 45, VERSIONS),
    alpn=("http/1.1",),
    tls13=True,
)
# A traffic-signal or pump controller reporting to SCADA over TLS 1.2 (no SNI sent).
CONTROLLER_FIRMWARE = Client(
    "controller-firmware",
    ciphers=(0xC02F, 0xC030, 0x009C, 0x002F, 0x0035),
    extensions=(GROUPS, POINT_FORMATS, SIGNATURES, 65281),
    groups=(23, 24),
)
# Tools an intruder brings: a command-line HTTP client and a scripting language's library.
CURL_LIKE_CIPHERS = (0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA,
                     0xC02B, 0xC02F, 0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067,
                     0xC00A, 0xC014, 0x0039, 0xC009, 0xC013, 0x0033, 0x009D, 0x009C, 0x003D,
                     0x003C, 0x0035, 0x002F, 0x00FF)  # fmt: skip
PYTHON_LIKE_CIPHERS = (0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8,
                       0x009F, 0x009E, 0xCCAA, 0xC0AF, 0xC0AD, 0xC0AE, 0xC0AC, 0xC024, 0xC028,
                       0xC023, 0xC027, 0x00FF)  # fmt: skip
CURL_LIKE = Client(
    "curl-like",
    ciphers=CURL_LIKE_CIPHERS,
    extensions=(SNI, POINT_FORMATS, GROUPS, 35, ALPN, 22, 23, 49, SIGNATURES, VERSIONS, 45, 51),
    groups=(29, 23, 30, 25, 24),
    alpn=("h2", "http/1.1"),
    tls13=True,
)
PYTHON_LIKE = Client(
    "python-like",
    ciphers=PYTHON_LIKE_CIPHERS,
    extensions=(SNI, POINT_FORMATS, GROUPS, 35, 22, 23, 13, VERSIONS, 45, 51),
    groups=(29, 23, 30, 25, 24),
    tls13=True,
)


def _u16s(values: tuple[int, ...]) -> bytes:
    return b"".join(struct.pack(">H", v) for v in values)


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _extension(client: Client, kind: int, sni: str | None) -> bytes:
    if kind == SNI and sni is None:
        return b""
    body = {
        SNI: _vec(b"\x00" + _vec((sni or "").encode(), 2), 2),
        GROUPS: _vec(_u16s(client.groups), 2),
        POINT_FORMATS: _vec(b"\x00", 1),
        SIGNATURES: _vec(_u16s(client.signatures), 2),
        ALPN: _vec(b"".join(_vec(p.encode(), 1) for p in client.alpn), 2),
        VERSIONS: _vec(_u16s((0x0304, 0x0303)), 1),
        45: _vec(b"\x01", 1),  # psk_key_exchange_modes: psk_dhe_ke
        51: _vec(struct.pack(">HH", 29, 32) + bytes(32), 2) if client.tls13 else b"",
    }.get(kind, b"")
    return struct.pack(">H", kind) + _vec(body, 2)


def client_hello(client: Client, sni: str | None) -> bytes:
    """The handshake message (type 1) a client sends; SNI only when ``sni`` is given."""
    extensions = b"".join(_extension(client, k, sni) for k in client.extensions)
    body = (struct.pack(">H", 0x0303) + bytes(range(32)) + _vec(bytes(32), 1)
            + _vec(_u16s(client.ciphers), 2) + _vec(b"\x00", 1) + _vec(extensions, 2))  # fmt: skip
    return b"\x01" + _vec(body, 3)


def server_hello(client: Client) -> bytes:
    """The server's answer: the client's first cipher, TLS 1.3 when the client offers it."""
    if client.tls13:
        extensions = struct.pack(">HHH", VERSIONS, 2, 0x0304) + struct.pack(">HH", 51, 36)
        extensions += struct.pack(">HH", 29, 32) + bytes(32)
    else:
        extensions = struct.pack(">HH", 65281, 1) + b"\x00"
    body = (struct.pack(">H", 0x0303) + bytes(32) + _vec(b"", 1)
            + struct.pack(">H", client.ciphers[0]) + b"\x00" + _vec(extensions, 2))  # fmt: skip
    return b"\x02" + _vec(body, 3)


def record(message: bytes) -> bytes:
    """A TLS 1.2 handshake record holding one message."""
    return b"\x16\x03\x03" + _vec(message, 2)


def handshake(client: Client, sni: str | None) -> list[Turn]:
    """The clear-text turns of a handshake: ClientHello, then ServerHello."""
    return [("c", record(client_hello(client, sni))), ("s", record(server_hello(client)))]
