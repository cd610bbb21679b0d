"""The byte layouts of SMB over TCP: NetBIOS session service framing (RFC 1002, and the
direct-TCP form of MS-SMB2 2.1 on port 445), and the SMB2 (MS-SMB2 2.2) and SMB1 (MS-CIFS 2.2)
messages a session starts with: NEGOTIATE, SESSION_SETUP and TREE_CONNECT.

Each parser takes one message and returns plain values; a field that would be read past the
message's end raises :class:`SmbError`, naming the offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SMB1, SMB2, TRANSFORM, COMPRESSED = b"\xffSMB", b"\xfeSMB", b"\xfdSMB", b"\xfcSMB"
HEADER = 64  # an SMB2 header
NEGOTIATE, SESSION_SETUP, TREE_CONNECT = 0, 1, 3
SMB1_NEGOTIATE, SMB1_SESSION_SETUP_ANDX = 0x72, 0x73
RESPONSE = 0x00000001  # SMB2_FLAGS_SERVER_TO_REDIR
SIGNING_REQUIRED = 0x02
CHAIN_MAX = 16  # compounded messages read from one frame
DIALECTS_MAX = 64
CONTEXTS_MAX = 32
NAME_MAX = 256
DIALECTS = {
    0x0202: "2.0.2",
    0x0210: "2.1",
    0x0222: "2.2.2",
    0x0224: "2.2.4",
    0x02FF: "2.???",
    0x0300: "3.0",
    0x0302: "3.0.2",
    0x0310: "3.1.0",
    0x0311: "3.1.1",
}
CIPHERS = {1: "AES-128-CCM", 2: "AES-128-GCM", 3: "AES-256-CCM", 4: "AES-256-GCM"}
SIGNING = {0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}
ENCRYPTION_CONTEXT, NETNAME_CONTEXT, SIGNING_CONTEXT = 2, 5, 8


class SmbError(ValueError):
    """An SMB message whose fields do not fit in it."""


def u16(data: bytes, at: int) -> int:
    if at + 2 > len(data):
        raise SmbError(f"needs 2 bytes at {at}, message has {len(data)}")
    return int(struct.unpack_from("<H", data, at)[0])


def u32(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise SmbError(f"needs 4 bytes at {at}, message has {len(data)}")
    return int(struct.unpack_from("<I", data, at)[0])


def u64(data: bytes, at: int) -> int:
    if at + 8 > len(data):
        raise SmbError(f"needs 8 bytes at {at}, message has {len(data)}")
    return int(struct.unpack_from("<Q", data, at)[0])


def span(data: bytes, offset: int, length: int, name: str) -> bytes:
    """``length`` bytes at ``offset`` of the message, refused if they run past its end."""
    if offset + length > len(data):
        raise SmbError(f"{name}: {length} bytes at {offset}, message has {len(data)}")
    return data[offset : offset + length]


def guid(raw: bytes) -> str:
    """A GUID as Windows writes it (its first three fields little-endian)."""
    a, b, c = struct.unpack_from("<IHH", raw)
    rest = raw[8:].hex()
    return f"{a:08x}-{b:04x}-{c:04x}-{rest[:4]}-{rest[4:]}"


def utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").replace("\x00", "")[:NAME_MAX]


def dialect_name(value: int) -> str:
    return DIALECTS.get(value, f"0x{value:04x}")


@dataclass
class Header:
    command: int
    status: int
    response: bool
    next_command: int
    session_id: int


def header(msg: bytes) -> Header:
    if len(msg) < HEADER or u16(msg, 4) != HEADER:
        raise SmbError(f"an SMB2 header needs {HEADER} bytes, message has {len(msg)}")
    return Header(
        command=u16(msg, 12),
        status=u32(msg, 8),
        response=bool(u32(msg, 16) & RESPONSE),
        next_command=u32(msg, 20),
        session_id=u64(msg, 40),
    )


def chain(frame: bytes) -> list[bytes]:
    """The SMB2 messages compounded in one frame (MS-SMB2 3.2.4.1.4)."""
    messages, at = [], 0
    for _ in range(CHAIN_MAX):
        msg = frame[at:]
        following = header(msg).next_command
        if not following:
            messages.append(msg)
            return messages
        if following < HEADER or following % 8 or at + following >= len(frame):
            raise SmbError(f"NextCommand {following} at {at + 20} outside the frame")
        messages.append(msg[:following])
        at += following
    raise SmbError(f"more than {CHAIN_MAX} compounded messages")


@dataclass
class Offer:
    """A client's NEGOTIATE request."""

    dialects: list[str]
    client_guid: str
    signing_required: bool
    server_name: str | None = None
    ciphers: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """A server's NEGOTIATE response."""

    dialect: str
    server_guid: str
    signing_required: bool
    cipher: str | None = None
    signing: str | None = None


def _contexts(msg: bytes, offset: int, count: int) -> list[tuple[int, bytes]]:
    """The negotiate contexts of SMB 3.1.1 (MS-SMB2 2.2.3.1), each 8-byte aligned."""
    if count > CONTEXTS_MAX:
        raise SmbError(f"{count} negotiate contexts, at most {CONTEXTS_MAX} read")
    found, at = [], offset
    for _ in range(count):
        at += -at % 8
        kind, length = u16(msg, at), u16(msg, at + 2)
        found.append((kind, span(msg, at + 8, length, f"negotiate context {kind}")))
        at += 8 + length
    return found


def _names(data: bytes, table: dict[int, str], count_at: int = 0) -> list[str]:
    count = min(u16(data, count_at), 8)
    return [table.get(u16(data, count_at + 2 + 2 * i), "unknown") for i in range(count)]


def negotiate_request(msg: bytes) -> Offer:
    count = u16(msg, HEADER + 2)
    if count > DIALECTS_MAX:
        raise SmbError(f"DialectCount {count} at {HEADER + 2}, at most {DIALECTS_MAX} read")
    values = [u16(msg, HEADER + 36 + 2 * i) for i in range(count)]
    offer = Offer(
        dialects=[dialect_name(v) for v in values],
        client_guid=guid(span(msg, HEADER + 12, 16, "ClientGuid")),
        signing_required=bool(u16(msg, HEADER + 4) & SIGNING_REQUIRED),
    )
    if 0x0311 in values:
        for kind, data in _contexts(msg, u32(msg, HEADER + 28), u16(msg, HEADER + 32)):
            if kind == NETNAME_CONTEXT:
                offer.server_name = utf16(data) or None
            elif kind == ENCRYPTION_CONTEXT:
                offer.ciphers = _names(data, CIPHERS)
    return offer


def negotiate_response(msg: bytes) -> Answer:
    value = u16(msg, HEADER + 4)
    answer = Answer(
        dialect=dialect_name(value),
        server_guid=guid(span(msg, HEADER + 8, 16, "ServerGuid")),
        signing_required=bool(u16(msg, HEADER + 2) & SIGNING_REQUIRED),
    )
    if value == 0x0311:
        for kind, data in _contexts(msg, u32(msg, HEADER + 60), u16(msg, HEADER + 6)):
            if kind == ENCRYPTION_CONTEXT and u16(data, 0):
                answer.cipher = _names(data, CIPHERS)[0]
            elif kind == SIGNING_CONTEXT and u16(data, 0):
                answer.signing = _names(data, SIGNING)[0]
    return answer


def session_setup_request(msg: bytes) -> bytes:
    """The security blob of a SESSION_SETUP request."""
    return span(msg, u16(msg, HEADER + 12), u16(msg, HEADER + 14), "SecurityBuffer")


def session_setup_response(msg: bytes) -> tuple[int, bytes]:
    """``(SessionFlags, security blob)`` of a SESSION_SETUP response that did not fail."""
    blob = span(msg, u16(msg, HEADER + 4), u16(msg, HEADER + 6), "SecurityBuffer")
    return u16(msg, HEADER + 2), blob


def tree_connect_request(msg: bytes) -> str:
    """The ``\\\\server\\share`` path of a TREE_CONNECT request."""
    return utf16(span(msg, u16(msg, HEADER + 4), u16(msg, HEADER + 6), "Path"))


def smb1_dialects(msg: bytes) -> list[str]:
    """The dialect strings of an SMB1 NEGOTIATE request (MS-CIFS 2.2.4.52.1)."""
    if len(msg) < 33:
        raise SmbError(f"an SMB1 header needs 33 bytes, message has {len(msg)}")
    at = 33 + 2 * msg[32]  # ByteCount follows WordCount's words
    data = span(msg, at + 2, u16(msg, at), "Dialects")
    names = []
    for entry in data.split(b"\x00")[:DIALECTS_MAX]:
        if entry[:1] == b"\x02" and len(entry) > 1:
            names.append(entry[1:].decode("latin-1")[:NAME_MAX])
    return names


def smb1_dialect_index(msg: bytes) -> int | None:
    """The DialectIndex of an SMB1 NEGOTIATE response; None if it chose none."""
    if len(msg) < 33:
        raise SmbError(f"an SMB1 header needs 33 bytes, message has {len(msg)}")
    index = u16(msg, 33) if msg[32] else 0xFFFF
    return None if index == 0xFFFF else index
