"""The range's SSH on the wire: what a sensor sees of a real login, without the cryptography.

Both sides send their identification string, then binary packets framed as RFC 4253
section 6 says (length, padding length, payload, random padding): a KEXINIT each, an ECDH
exchange and the NEWKEYS. From there a real connection is encrypted; here each message is
an opaque record of the size OpenSSH's would have with an AEAD cipher, so the sensors' login
guess reads the same shape. The client's password request carries ``method:user`` in its
first bytes, so that the responder can log what sshd would; the sensor cannot read it, as it
could not read the real one. Steps (client, then server answers):

1. banner and KEXINIT / banner and KEXINIT; ECDH init / ECDH reply and NEWKEYS;
2. NEWKEYS and the service request / EXT_INFO and the service accept;
3. the ``none`` request / a refusal; the password or key request / a refusal, or a success
   followed by the session's first answers (host keys, channel, shell prompt).
"""

from __future__ import annotations

import os
import struct

KEXINIT, NEWKEYS, ECDH_INIT, ECDH_REPLY = 20, 21, 30, 31
MAX_PACKET = 35_000  # RFC 4253 section 6.1
ALGORITHMS = (
    "curve25519-sha256,ecdh-sha2-nistp256,kex-strict-{side}-v00@openssh.com",
    "ssh-ed25519,rsa-sha2-512",
    "chacha20-poly1305@openssh.com,aes128-ctr", "chacha20-poly1305@openssh.com,aes128-ctr",
    "hmac-sha2-256-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
    "none", "none", "", "",
)  # fmt: skip
# record sizes: an OpenSSH login with chacha20-poly1305
SERVICE_REQUEST, EXT_INFO, SERVICE_ACCEPT, NONE_REQUEST = 52, 276, 52, 84
AUTH_REQUEST, REFUSAL, SUCCESS = 116, 68, 36
SESSION = (620, 52, 940)  # after a success: host keys, channel confirmation, banner and prompt


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def packet(payload: bytes) -> bytes:
    """``payload`` as a clear binary packet (8-byte blocks, at least 4 bytes of padding)."""
    padding = 8 - (5 + len(payload)) % 8
    if padding < 4:
        padding += 8
    return struct.pack(">IB", 1 + len(payload) + padding, padding) + payload + os.urandom(padding)


def kexinit(side: str) -> bytes:
    """``side`` is ``c`` or ``s`` (the strict key exchange marker differs)."""
    lists = b"".join(_string(names.format(side=side).encode()) for names in ALGORITHMS)
    return packet(bytes([KEXINIT]) + os.urandom(16) + lists + b"\0" + bytes(4))


def ecdh_init() -> bytes:
    return packet(bytes([ECDH_INIT]) + _string(os.urandom(32)))


def ecdh_reply_and_newkeys() -> bytes:
    host_key = _string(b"ssh-ed25519") + _string(os.urandom(32))
    signature = _string(b"ssh-ed25519") + _string(os.urandom(64))
    reply = bytes([ECDH_REPLY]) + _string(host_key) + _string(os.urandom(32)) + _string(signature)
    return packet(reply) + packet(bytes([NEWKEYS]))


def newkeys() -> bytes:
    return packet(bytes([NEWKEYS]))


def record(size: int, starting: bytes = b"") -> bytes:
    """An opaque "encrypted" record of ``size`` bytes."""
    return starting[:size] + os.urandom(max(size - len(starting), 0))


def auth_request(method: str, user: str) -> bytes:
    return record(AUTH_REQUEST, f"{method}:{user}\0".encode()[: AUTH_REQUEST - 1])


def read_auth_request(data: bytes) -> tuple[str, str]:
    """``(method, user)`` of a request made by :func:`auth_request`."""
    text = data.partition(b"\0")[0].decode("latin-1")
    method, _, user = text.partition(":")
    return method, user
