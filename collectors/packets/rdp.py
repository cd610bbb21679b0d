"""RDP connection starts read from the reassembled TCP streams of a connection (port 3389).

From the client's X.224 Connection Request (MS-RDPBCGR 2.2.1.1, inside a TPKT): the cookie
(``Cookie: mstshash=<user>``, the user name the client was given, possibly ``DOMAIN\\user``)
or a load balancer's routing token, and the RDP_NEG_REQ security protocols it asks for:
standard RDP security (``rdp``), ``tls``, ``credssp``, ``rdstls``, ``credssp_early_user_auth``
(HYBRID_EX), ``aad``, and whether it requires restricted admin mode. From the server's
Connection Confirm: the protocol it selected, or why it refused (RDP_NEG_FAILURE). When
standard RDP security is selected, the client's MCS Connect Initial follows in clear and its
GCC client core data (2.2.1.3.2) names the client computer (``source.domain``), its build,
RDP version and keyboard layout. Otherwise the connection turns to TLS and the rest of its
handshake goes to :class:`~collectors.packets.tls.TlsSession`, which gives its own
``network_traffic.tls`` record (fingerprints, the server certificate up to TLS 1.2).

One ``network_traffic.rdp`` record per connection. Work is bounded: a TPKT longer than
:data:`TPKT_MAX`, a block or name past its message's end, ends the parse of that side and is
reported through :meth:`RdpSession.take_errors`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from citysoc.core.ecs import Event
from collectors.packets.protocols import AppRecord
from collectors.packets.tls import TlsSession

DATASET = "network_traffic.rdp"
TPKT_MAX = 8 * 1024  # a Connection Request, Confirm or MCS Connect Initial fits
COOKIE_MAX = 256
CONNECTION_REQUEST, CONNECTION_CONFIRM, DATA = 0xE0, 0xD0, 0xF0
NEG_REQ, NEG_RSP, NEG_FAILURE = 0x01, 0x02, 0x03
RESTRICTED_ADMIN = 0x01
CS_CORE = 0xC001
BLOCKS_MAX = 32
PROTOCOLS = {
    0x01: "tls",
    0x02: "credssp",
    0x04: "rdstls",
    0x08: "credssp_early_user_auth",
    0x10: "aad",
}
FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}


class RdpError(ValueError):
    """An RDP message whose fields do not fit in it."""


def protocol_names(mask: int) -> list[str]:
    """The security protocols of a requestedProtocols mask; 0 is standard RDP security."""
    names = [name for bit, name in PROTOCOLS.items() if mask & bit]
    unknown = mask & ~sum(PROTOCOLS)
    if unknown:
        names.append(f"0x{unknown:08x}")
    return names or ["rdp"]


def selected_name(value: int) -> str:
    return "rdp" if value == 0 else PROTOCOLS.get(value, f"0x{value:08x}")


def _x224(tpdu: bytes, code: int) -> bytes:
    """The variable part of an X.224 Connection Request or Confirm (after its 7 bytes)."""
    if len(tpdu) < 7 or tpdu[1] & 0xF0 != code:
        raise RdpError(f"not an X.224 TPDU 0x{code:02x}: {tpdu[:2].hex()}")
    if tpdu[0] + 1 > len(tpdu):
        raise RdpError(f"X.224 length indicator {tpdu[0]} past the {len(tpdu)}-byte TPDU")
    return tpdu[7 : tpdu[0] + 1]


def _negotiation(data: bytes, kind: int) -> tuple[int, int] | None:
    """``(flags, value)`` of an RDP_NEG_* structure of type ``kind`` at ``data``'s start."""
    if len(data) < 8 or data[0] != kind:
        return None
    _kind, flags, length, value = struct.unpack_from("<BBHI", data)
    if length != 8:
        raise RdpError(f"RDP_NEG structure of type {kind} claims {length} bytes, not 8")
    return flags, value


def connection_request(tpdu: bytes) -> Event:
    """The ``rdp.*`` and ``user.*`` fields of a Connection Request TPDU."""
    data = _x224(tpdu, CONNECTION_REQUEST)
    fields: Event = {}
    if data.startswith(b"Cookie: "):
        end = data.find(b"\r\n", 0, COOKIE_MAX)
        if end < 0:
            raise RdpError(f"a cookie with no CRLF in its first {COOKIE_MAX} bytes")
        name, _, value = data[8:end].decode("latin-1").partition("=")
        if name == "mstshash":
            fields["rdp.cookie"] = value
            domain, _, user = value.rpartition("\\")
            if user:
                fields["user.name"] = user
            if domain:
                fields["user.domain"] = domain
        else:
            fields["rdp.routing_token"] = data[8:end].decode("latin-1")
        data = data[end + 2 :]
    negotiation = _negotiation(data, NEG_REQ)
    mask = negotiation[1] if negotiation else 0
    fields["rdp.requested_protocols"] = protocol_names(mask)
    fields["rdp.restricted_admin"] = bool(negotiation and negotiation[0] & RESTRICTED_ADMIN)
    return fields


def connection_confirm(tpdu: bytes) -> tuple[int | None, Event]:
    """``(selected protocol or None on refusal, fields)`` of a Connection Confirm TPDU."""
    data = _x224(tpdu, CONNECTION_CONFIRM)
    failure = _negotiation(data, NEG_FAILURE)
    if failure is not None:
        code = FAILURES.get(failure[1], f"0x{failure[1]:08x}")
        return None, {"rdp.negotiation_failure": code, "event.reason": code}
    answer = _negotiation(data, NEG_RSP)
    selected = answer[1] if answer else 0  # no RDP_NEG_RSP: a server of standard security
    return selected, {"rdp.selected_protocol": selected_name(selected)}


def _ber_length(data: bytes, at: int) -> tuple[int, int]:
    """``(length, where the value starts)`` of a BER length at ``at``."""
    if at >= len(data):
        raise RdpError(f"BER length at {at} past the end")
    first = data[at]
    if first < 0x80:
        return first, at + 1
    size = first & 0x7F
    if not 1 <= size <= 2 or at + 1 + size > len(data):
        raise RdpError(f"BER length of {size} bytes at {at}")
    return int.from_bytes(data[at + 1 : at + 1 + size], "big"), at + 1 + size


def _user_data(mcs: bytes) -> bytes:
    """The userData OCTET STRING of an MCS Connect-Initial (T.125), its seventh field."""
    if mcs[:2] != b"\x7f\x65":
        raise RdpError(f"not an MCS Connect-Initial: {mcs[:2].hex()}")
    length, at = _ber_length(mcs, 2)
    body = mcs[at : at + length]
    at, value = 0, b""
    for _ in range(7):
        size, start = _ber_length(body, at + 1)
        if start + size > len(body):
            raise RdpError(f"BER value of {size} bytes at {start} past the Connect-Initial")
        value, at = body[start : start + size], start + size
    return value


def client_core(mcs: bytes) -> Event:
    """The client computer's name, build, RDP version and keyboard layout (CS_CORE)."""
    gcc = _user_data(mcs)
    at = gcc.find(b"Duca")  # the H.221 key before the client's data blocks (T.124)
    if at < 0:
        raise RdpError("no client data blocks in the GCC Conference Create Request")
    at += 4
    at += 2 if at < len(gcc) and gcc[at] & 0x80 else 1  # the PER length of the blocks
    for _ in range(BLOCKS_MAX):
        if at + 4 > len(gcc):
            break
        kind, size = struct.unpack_from("<HH", gcc, at)
        if size < 4 or at + size > len(gcc):
            raise RdpError(f"client data block 0x{kind:04x} of {size} bytes at {at}")
        if kind == CS_CORE:
            return _core_fields(gcc[at : at + size])
        at += size
    return {}


def _core_fields(block: bytes) -> Event:
    if len(block) < 56:
        raise RdpError(f"a client core data block of {len(block)} bytes, 56 needed")
    version, width, height = struct.unpack_from("<IHH", block, 4)
    layout, build = struct.unpack_from("<II", block, 16)
    name = block[24:56].decode("utf-16-le", "replace").partition("\x00")[0].strip()
    fields: Event = {
        "rdp.client.version": _rdp_version(version),
        "rdp.client.build": build,
        "rdp.client.keyboard_layout": f"0x{layout:08x}",
        "rdp.client.desktop_width": width,
        "rdp.client.desktop_height": height,
    }
    if name:
        fields["rdp.client.name"] = name
        fields["source.domain"] = name
    return fields


def _rdp_version(value: int) -> str:
    """RDP_VERSION_4 (0x00080001), _5_PLUS (0x00080004), _10_0 (0x00080005) onwards."""
    major, minor = value >> 16, value & 0xFFFF
    if major == 8 and minor in (1, 4):
        return f"{minor + 3}.0"
    if major == 8 and 5 <= minor <= 0x40:
        return f"10.{minor - 5}"
    return f"0x{value:08x}"


@dataclass
class _Tpkts:
    """TPKT (RFC 1006) packets of one direction."""

    buffer: bytearray = field(default_factory=bytearray)
    consumed: int = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """New whole packets ``(stream offset, TPDU)``; raises RdpError on bad framing."""
        self.buffer += data  # whole packets leave it below TPKT_MAX
        packets = []
        while len(self.buffer) >= 4:
            if self.buffer[0] != 3:
                raise RdpError(f"not a TPKT at stream byte {self.consumed}")
            length = int.from_bytes(self.buffer[2:4], "big")
            if not 7 <= length <= TPKT_MAX:
                raise RdpError(f"a TPKT of {length} bytes at stream byte {self.consumed}")
            if len(self.buffer) < length:
                break
            packets.append((self.consumed, bytes(self.buffer[4:length])))
            del self.buffer[:length]
            self.consumed += length
        return packets


@dataclass
class RdpSession:
    """The connection sequence of one RDP connection: one ``network_traffic.rdp`` record."""

    sides: tuple[_Tpkts, _Tpkts] = field(default_factory=lambda: (_Tpkts(), _Tpkts()))
    fields: Event = field(default_factory=dict)
    first_seen: float | None = None
    selected: int | None = None
    confirmed: bool = False
    tls: TlsSession | None = None
    reported: bool = False
    done: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)

    def client_data(self, data: bytes, when: float) -> list[AppRecord]:
        if self.tls is not None:
            return self.tls.client_data(data, when)
        if self.first_seen is None and not self.sides[0].buffer and data[:1] != b"\x03":
            self.done = True  # not RDP: nothing to report
        return self._data(0, data, when)

    def server_data(self, data: bytes, when: float) -> list[AppRecord]:
        if self.tls is not None:
            return self.tls.server_data(data, when)
        return self._data(1, data, when)

    def finish(self) -> list[AppRecord]:
        out = self._record() if self.first_seen is not None and not self.reported else []
        if self.tls is not None:
            out += self.tls.finish()
        self.done = True
        return out

    def take_errors(self) -> list[tuple[str, str]]:
        """``(reason, detail)`` of each malformed message since the last call."""
        errors, self.errors = self.errors, []
        return errors

    def _data(self, side: int, data: bytes, when: float) -> list[AppRecord]:
        if self.done:
            return []
        name = "client" if side == 0 else "server"
        try:
            for offset, tpdu in self.sides[side].feed(data):
                try:
                    out = self._tpdu(side, tpdu, when)
                except RdpError as exc:
                    raise RdpError(f"stream byte {offset}: {exc}") from exc
                if out or self.done:
                    return out
        except RdpError as exc:
            if len(self.errors) < 8:
                self.errors.append(("rdp-malformed", f"{name} {exc}"))
            self.done = True
            return self._record() if self.first_seen is not None else []
        return []

    def _tpdu(self, side: int, tpdu: bytes, when: float) -> list[AppRecord]:
        if side == 0 and self.first_seen is None:
            self.fields |= connection_request(tpdu)
            self.first_seen = when
        elif side == 1 and self.first_seen is not None and not self.confirmed:
            self.confirmed = True
            self.selected, answer = connection_confirm(tpdu)
            self.fields |= answer
            if self.selected != 0:
                return self._record()
        elif side == 0 and self.confirmed and self.selected == 0:
            if tpdu[:3] == b"\x02\xf0\x80":  # X.224 Data, then the MCS PDU
                self.fields |= client_core(tpdu[3:])
            return self._record()
        return []

    def _record(self) -> list[AppRecord]:
        if self.reported:
            return []
        self.reported = True
        self.done = True
        if self.selected:  # TLS, CredSSP, RDSTLS or AAD: the handshake is TLS's to read
            self.tls = TlsSession()
        outcome = "unknown"
        if self.confirmed:
            outcome = "failure" if self.selected is None else "success"
        fields: Event = {
            "event.category": ["network", "session"],
            "event.type": ["protocol", "start"],
            "event.action": "rdp_connection",
            "event.outcome": outcome,
            "network.protocol": "rdp",
            **self.fields,
        }
        if fields.get("user.name"):
            fields["related.user"] = [fields["user.name"]]
        if fields.get("source.domain"):
            fields["related.hosts"] = [fields["source.domain"]]
        return [AppRecord(DATASET, self.first_seen or 0.0, fields)]
