"""The clear-text part of SSH after the identification strings (RFC 4253, sections 6 and 7).

Each side sends binary packets (``uint32 packet_length``, ``byte padding_length``, payload,
padding) in clear until its ``SSH_MSG_NEWKEYS``; after that its packets are encrypted.
:class:`PacketReader` splits one side's bytes into payloads, within strict bounds: a packet
longer than :data:`MAX_PACKET` (RFC 4253, 6.1: 35,000 bytes), more than
:data:`MAX_CLEAR_PACKETS` clear packets, or a padding that does not fit ends that side's parse
with a :class:`SshParseError`. :func:`parse_kexinit` reads an ``SSH_MSG_KEXINIT``
(section 7.1), each name-list at most :data:`MAX_NAME_LIST` bytes; :func:`negotiate` applies
the RFC's choice (the first algorithm of the client's list the server also offers; for the
key exchange the host-key compatibility conditions are not checked) and :func:`hassh` gives
the HASSH fingerprints (MD5 of ``kex;encryption;mac;compression``: the client's
client-to-server lists for HASSH, the server's server-to-client lists for HASSHServer).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAX_PACKET = 35_000  # packet_length, RFC 4253 section 6.1
MAX_NAME_LIST = 4096  # bytes of one name-list; OpenSSH's longest lists are under 1,000
MAX_NAMES = 64  # names kept from one list in an event
MAX_NAME = 64  # characters kept from one name (RFC 4251 section 6: at most 64)
MAX_CLEAR_PACKETS = 32  # a key exchange takes 3 or 4 packets a side
MSG_DISCONNECT, MSG_IGNORE, MSG_DEBUG, MSG_KEXINIT, MSG_NEWKEYS = 1, 2, 4, 20, 21
AEAD = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
STRICT_KEX = ("kex-strict-c-v00@openssh.com", "kex-strict-s-v00@openssh.com")


class SshParseError(ValueError):
    """Bytes that are not what RFC 4253 says a side must send; ``reason`` names the fault."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class KexInit:
    """The name-lists of one ``SSH_MSG_KEXINIT``, each in the sender's order of preference."""

    kex: tuple[str, ...]
    host_key: tuple[str, ...]
    encryption_client_to_server: tuple[str, ...]
    encryption_server_to_client: tuple[str, ...]
    mac_client_to_server: tuple[str, ...]
    mac_server_to_client: tuple[str, ...]
    compression_client_to_server: tuple[str, ...]
    compression_server_to_client: tuple[str, ...]
    first_kex_follows: bool


def _name_list(data: bytes, at: int, what: str) -> tuple[tuple[str, ...], int]:
    if at + 4 > len(data):
        raise SshParseError("ssh-malformed-kexinit", f"{what}: the list length is cut at {at}")
    (size,) = struct.unpack_from(">I", data, at)
    if size > MAX_NAME_LIST:
        raise SshParseError("ssh-malformed-kexinit", f"{what}: a {size}-byte list at {at}")
    end = at + 4 + size
    if end > len(data):
        raise SshParseError(
            "ssh-malformed-kexinit", f"{what}: {size} bytes at {at}, {len(data) - at - 4} left"
        )
    raw = data[at + 4 : end]
    if not raw.isascii():
        raise SshParseError("ssh-malformed-kexinit", f"{what}: names that are not ASCII at {at}")
    return tuple(raw.decode("ascii").split(",")) if raw else (), end


def parse_kexinit(payload: bytes) -> KexInit:
    """The lists of an ``SSH_MSG_KEXINIT`` payload (its first byte is the message number)."""
    if not payload or payload[0] != MSG_KEXINIT:
        raise SshParseError("ssh-malformed-kexinit", "not an SSH_MSG_KEXINIT")
    at = 1 + 16  # message number, cookie
    lists: list[tuple[str, ...]] = []
    for what in ("kex_algorithms", "server_host_key_algorithms", "encryption c->s",
                 "encryption s->c", "mac c->s", "mac s->c", "compression c->s",
                 "compression s->c", "languages c->s", "languages s->c"):  # fmt: skip
        names, at = _name_list(payload, at, what)
        lists.append(names)
    if at + 5 > len(payload):
        raise SshParseError("ssh-malformed-kexinit", f"first_kex_packet_follows cut at {at}")
    kex, host_key, enc_cs, enc_sc, mac_cs, mac_sc, cmp_cs, cmp_sc = lists[:8]
    return KexInit(kex, host_key, enc_cs, enc_sc, mac_cs, mac_sc, cmp_cs, cmp_sc, payload[at] != 0)


def _first_common(client: tuple[str, ...], server: tuple[str, ...]) -> str | None:
    offered = set(server)
    return next((name for name in client if name in offered), None)


def negotiate(client: KexInit, server: KexInit) -> dict[str, str]:
    """The algorithms both sides will use (RFC 4253, 7.1); a missing key means no agreement.

    With an AEAD cipher (ChaCha20-Poly1305, AES-GCM) the MAC is part of the cipher: written
    ``<implicit>`` as OpenSSH does.
    """
    pairs = {
        "kex": (client.kex, server.kex),
        "host_key": (client.host_key, server.host_key),
        "encryption_client_to_server": (
            client.encryption_client_to_server, server.encryption_client_to_server),
        "encryption_server_to_client": (
            client.encryption_server_to_client, server.encryption_server_to_client),
        "mac_client_to_server": (client.mac_client_to_server, server.mac_client_to_server),
        "mac_server_to_client": (client.mac_server_to_client, server.mac_server_to_client),
        "compression_client_to_server": (
            client.compression_client_to_server, server.compression_client_to_server),
        "compression_server_to_client": (
            client.compression_server_to_client, server.compression_server_to_client),
    }  # fmt: skip
    chosen = {}
    for name, (ours, theirs) in pairs.items():
        found = _first_common(ours, theirs)
        if found is not None:
            chosen[name] = found[:MAX_NAME]
    for direction in ("client_to_server", "server_to_client"):
        if chosen.get(f"encryption_{direction}") in AEAD:
            chosen[f"mac_{direction}"] = "<implicit>"
    return chosen


def hassh_string(kexinit: KexInit, *, server: bool) -> str:
    """The HASSH (client) or HASSHServer algorithms string of a KEXINIT."""
    if server:
        lists = (kexinit.kex, kexinit.encryption_server_to_client,
                 kexinit.mac_server_to_client, kexinit.compression_server_to_client)  # fmt: skip
    else:
        lists = (kexinit.kex, kexinit.encryption_client_to_server,
                 kexinit.mac_client_to_server, kexinit.compression_client_to_server)  # fmt: skip
    return ";".join(",".join(names) for names in lists)


def hassh(kexinit: KexInit, *, server: bool) -> str:
    text = hassh_string(kexinit, server=server)
    return hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest()


class PacketReader:
    """One side's clear binary packets, then (from its ``SSH_MSG_NEWKEYS``) its encrypted bytes.

    :meth:`feed` returns the payloads of the packets completed and the bytes that followed
    the side's NEWKEYS in the same delivery (the first encrypted bytes). It holds at most
    one incomplete packet (``4 + MAX_PACKET`` bytes).
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offset = 0  # stream offset of ``buffer[0]`` since the end of the banner
        self.packets = 0
        self.encrypted = False

    def feed(self, data: bytes) -> tuple[list[bytes], bytes, SshParseError | None]:
        """Payloads completed, bytes past the NEWKEYS, and the fault that ended the parse."""
        if self.encrypted:
            return [], data, None
        self.buffer += data
        payloads: list[bytes] = []
        try:
            while (payload := self._next()) is not None:
                payloads.append(payload)
                if payload[0] == MSG_NEWKEYS:
                    self.encrypted = True
                    rest = bytes(self.buffer)
                    self.buffer.clear()
                    return payloads, rest, None
        except SshParseError as exc:
            self.buffer.clear()
            return payloads, b"", exc
        return payloads, b"", None

    def _next(self) -> bytes | None:
        if len(self.buffer) < 5:
            return None
        length, padding = struct.unpack_from(">IB", self.buffer)
        where = f"packet {self.packets + 1} at stream byte {self.offset}"
        if length > MAX_PACKET:
            raise SshParseError("ssh-packet-too-long", f"{where} declares {length} bytes")
        if padding < 4 or padding + 1 >= length:
            raise SshParseError(
                "ssh-malformed-packet", f"{where}: padding {padding} in a {length}-byte packet"
            )
        if len(self.buffer) < 4 + length:
            return None
        if self.packets >= MAX_CLEAR_PACKETS:
            raise SshParseError("ssh-kex-too-long", f"{where}: still no NEWKEYS")
        payload = bytes(self.buffer[5 : 4 + length - padding])
        del self.buffer[: 4 + length]
        self.offset += 4 + length
        self.packets += 1
        return payload

    @property
    def pending(self) -> int:
        """Bytes of an incomplete packet held at the moment."""
        return len(self.buffer)
