"""SSH conversations built per RFC 4253 for test and demo captures.

The identification strings, binary packets (length, padding to the 8-byte block, payload,
random padding, no MAC before NEWKEYS), each side's ``SSH_MSG_KEXINIT`` from name-lists,
an ECDH exchange (RFC 5656 message numbers 30 and 31) and the two ``SSH_MSG_NEWKEYS``; then
opaque records of the sizes an encrypted password login gives. Nothing is encrypted for real:
the encrypted part is random bytes of the right length, which is all a sensor can see of it.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scenarios.packetcraft import Turn

KEXINIT, NEWKEYS, KEX_ECDH_INIT, KEX_ECDH_REPLY = 20, 21, 30, 31


@dataclass(frozen=True)
class Algorithms:
    """The name-lists one side offers (the same lists both directions)."""

    kex: tuple[str, ...]
    host_key: tuple[str, ...]
    encryption: tuple[str, ...]
    mac: tuple[str, ...]
    compression: tuple[str, ...] = ("none", "zlib@openssh.com")


# Lists of the kind a current OpenSSH offers, written out for the tests and the demo.
CLIENT_ALGORITHMS = Algorithms(
    kex=("sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
         "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256", "ext-info-c",
         "kex-strict-c-v00@openssh.com"),
    host_key=("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"),
    encryption=("chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr",
                "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"),
    mac=("umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-256",
         "hmac-sha1"),
    compression=("none", "zlib@openssh.com", "zlib"),
)  # fmt: skip
SERVER_ALGORITHMS = Algorithms(
    kex=("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
         "diffie-hellman-group16-sha512", "kex-strict-s-v00@openssh.com"),
    host_key=("rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519"),
    encryption=("aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"),
    mac=("hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"),
    compression=("none", "zlib@openssh.com"),
)  # fmt: skip


def string(data: bytes) -> bytes:
    """An SSH ``string``: uint32 length, then the bytes (RFC 4251, section 5)."""
    return struct.pack(">I", len(data)) + data


def name_list(names: Sequence[str]) -> bytes:
    return string(",".join(names).encode("ascii"))


def binary_packet(payload: bytes, rng: random.Random, *, block: int = 8) -> bytes:
    """``payload`` framed as RFC 4253 section 6 says, before any cipher is in use."""
    padding = block - (5 + len(payload)) % block
    if padding < 4:
        padding += block
    body = bytes([padding]) + payload + rng.randbytes(padding)
    return struct.pack(">I", len(body)) + body


def kexinit_payload(algorithms: Algorithms, cookie: bytes, *, first_follows: bool = False) -> bytes:
    lists = (algorithms.kex, algorithms.host_key, algorithms.encryption, algorithms.encryption,
             algorithms.mac, algorithms.mac, algorithms.compression, algorithms.compression,
             (), ())  # fmt: skip
    return (
        bytes([KEXINIT])
        + cookie[:16].ljust(16, b"\0")
        + b"".join(name_list(names) for names in lists)
        + bytes([first_follows])
        + bytes(4)
    )


def handshake(
    rng: random.Random,
    *,
    client_banner: bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
    server_banner: bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
    client: Algorithms = CLIENT_ALGORITHMS,
    server: Algorithms = SERVER_ALGORITHMS,
) -> list[Turn]:
    """Banners, KEXINITs, the ECDH exchange and the server's NEWKEYS (the client's is sent
    with its first encrypted request, see :func:`password_login`)."""
    host_key = string(b"ssh-ed25519") + string(rng.randbytes(32))
    signature = string(b"ssh-ed25519") + string(rng.randbytes(64))
    server_key = string(rng.randbytes(32))
    reply = bytes([KEX_ECDH_REPLY]) + string(host_key) + server_key + string(signature)
    return [
        ("s", server_banner + b"\r\n"),
        ("c", client_banner + b"\r\n"),
        ("c", binary_packet(kexinit_payload(client, rng.randbytes(16)), rng)),
        ("s", binary_packet(kexinit_payload(server, rng.randbytes(16)), rng)),
        ("c", binary_packet(bytes([KEX_ECDH_INIT]) + string(rng.randbytes(32)), rng)),
        ("s", binary_packet(reply, rng) + binary_packet(bytes([NEWKEYS]), rng)),
    ]


# Encrypted sizes (packet, 16-byte MAC) of the messages of a password login with an AEAD
# cipher: what an OpenSSH client and server exchange.
SERVICE_REQUEST, SERVICE_ACCEPT, EXT_INFO = 52, 52, 276
NONE_REQUEST, FAILURE, SUCCESS, DISCONNECT = 84, 68, 36, 100


def password_login(
    rng: random.Random, attempts: int, *, success: bool, disconnect: bool = False
) -> list[Turn]:
    """The client's NEWKEYS with its service request, then the ``none`` probe and
    ``attempts`` password tries, each refused but the last if ``success``; after a success,
    a shell session (channel open, the host keys, a banner, a prompt, some commands). With
    ``disconnect`` the server answers the last try with a DISCONNECT (its MaxAuthTries)."""
    newkeys = binary_packet(bytes([NEWKEYS]), rng)
    turns: list[Turn] = [
        ("c", newkeys + rng.randbytes(SERVICE_REQUEST)),
        ("s", rng.randbytes(EXT_INFO)),
        ("s", rng.randbytes(SERVICE_ACCEPT)),
        ("c", rng.randbytes(NONE_REQUEST)),
        ("s", rng.randbytes(FAILURE)),
    ]
    for n in range(attempts):
        turns.append(("c", rng.randbytes(116 + 16 * rng.randrange(3))))
        last = n == attempts - 1
        answer = SUCCESS if success and last else DISCONNECT if disconnect and last else FAILURE
        turns.append(("s", rng.randbytes(answer)))
    if success:
        session = [("c", 100), ("s", 620), ("s", 52), ("c", 420), ("s", 940), ("c", 36),
                   ("s", 36), ("c", 36), ("s", 1400)]  # fmt: skip
        turns += [("c" if side == "c" else "s", rng.randbytes(size)) for side, size in session]
    return turns
