"""NTLMSSP messages (MS-NLMP) found in the security blobs of SMB session setups.

Only what travels in clear is read: the server's names from a CHALLENGE message's target
information (NetBIOS and DNS names of the computer and its domain) and its OS version, and
from an AUTHENTICATE message the user name, domain and workstation the client states, which
kind of response it sent (NTLMv1, NTLMv2 or anonymous) and its OS version. Responses, keys and
the MIC are never kept. A message found in a blob is located by its signature, so it is read
the same inside SPNEGO (RFC 4178) or bare.

Every offset and length is checked against the message; a field that points outside it raises
:class:`NtlmError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE, CHALLENGE, AUTHENTICATE = 1, 2, 3
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_VERSION = 0x02000000
NAME_MAX = 256  # characters kept of a user, domain or host name
AV_PAIRS_MAX = 64  # attribute-value pairs read from one target information block
# MS-NLMP 2.2.2.1 AV_PAIR ids carrying names, and what they name
AV_NAMES = {
    1: "netbios_computer",
    2: "netbios_domain",
    3: "dns_computer",
    4: "dns_domain",
    5: "dns_tree",
}
KERBEROS_OIDS = (
    b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02",  # 1.2.840.113554.1.2.2
    b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02",  # 1.2.840.48018.1.2.2 (Microsoft's)
)


class NtlmError(ValueError):
    """An NTLMSSP message whose fields do not fit in it."""


@dataclass(frozen=True)
class Challenge:
    """What a server says of itself in its CHALLENGE message."""

    names: dict[str, str]  # AV_NAMES values -> name
    version: str | None


@dataclass(frozen=True)
class Authenticate:
    """What a client states in its AUTHENTICATE message (never its responses or keys)."""

    user: str
    domain: str
    workstation: str
    response: str  # NTLMv1, NTLMv2 or anonymous
    version: str | None


def locate(blob: bytes) -> tuple[int, bytes] | None:
    """``(message type, message)`` of the NTLMSSP message in a security blob, if any."""
    at = blob.find(SIGNATURE)
    if at < 0:
        return None
    if at + 12 > len(blob):
        raise NtlmError(f"NTLMSSP signature at {at} with no message type")
    kind = struct.unpack_from("<I", blob, at + 8)[0]
    return int(kind), blob[at:]


def mechanism(blob: bytes) -> str | None:
    """``ntlm`` or ``kerberos``, as far as a security blob shows it."""
    if SIGNATURE in blob:
        return "ntlm"
    if any(oid in blob for oid in KERBEROS_OIDS):
        return "kerberos"
    return None


def _u32(msg: bytes, at: int) -> int:
    if at + 4 > len(msg):
        raise NtlmError(f"needs 4 bytes at {at}, has {max(len(msg) - at, 0)}")
    return int(struct.unpack_from("<I", msg, at)[0])


def _payload(msg: bytes, at: int, name: str) -> bytes:
    """The bytes a ``(length, max length, offset)`` field at ``at`` points to."""
    if at + 8 > len(msg):
        raise NtlmError(f"{name} field at {at} past the end ({len(msg)} bytes)")
    length, _most, offset = struct.unpack_from("<HHI", msg, at)
    if length and offset + length > len(msg):
        raise NtlmError(f"{name}: {length} bytes at {offset}, message has {len(msg)}")
    return msg[offset : offset + length] if length else b""


def _text(raw: bytes, unicode: bool) -> str:
    """A name as sent: UTF-16LE, or an OEM code page read as Latin-1 (which never fails)."""
    text = raw.decode("utf-16-le", "replace") if unicode else raw.decode("latin-1")
    return text.replace("\x00", "")[:NAME_MAX]


def _version(msg: bytes, flags: int, at: int) -> str | None:
    """The ``major.minor.build`` of a VERSION structure at ``at``, when the flags say one is
    there and the message holds it."""
    if not flags & NEGOTIATE_VERSION or at + 8 > len(msg):
        return None
    major, minor, build = struct.unpack_from("<BBH", msg, at)
    return f"{major}.{minor}.{build}" if major else None


def parse_challenge(msg: bytes) -> Challenge:
    """A CHALLENGE message (MS-NLMP 2.2.1.2) from its signature on."""
    flags = _u32(msg, 20)
    info = _payload(msg, 40, "TargetInfo") if len(msg) >= 48 else b""
    names: dict[str, str] = {}
    at = 0
    for _ in range(AV_PAIRS_MAX):
        if at + 4 > len(info):
            break
        av_id, av_len = struct.unpack_from("<HH", info, at)
        if av_id == 0:  # MsvAvEOL
            break
        if at + 4 + av_len > len(info):
            raise NtlmError(f"AV_PAIR {av_id} of {av_len} bytes at {at} past the target info")
        if av_id in AV_NAMES:
            names[AV_NAMES[av_id]] = _text(info[at + 4 : at + 4 + av_len], True)
        at += 4 + av_len
    return Challenge(names={k: v for k, v in names.items() if v}, version=_version(msg, flags, 48))


def parse_authenticate(msg: bytes) -> Authenticate:
    """An AUTHENTICATE message (MS-NLMP 2.2.1.3) from its signature on."""
    flags = _u32(msg, 60)
    unicode = bool(flags & NEGOTIATE_UNICODE)
    nt_response = _payload(msg, 20, "NtChallengeResponse")
    user = _text(_payload(msg, 36, "UserName"), unicode)
    if not nt_response and not user:
        response = "anonymous"
    elif len(nt_response) == 24:
        response = "NTLMv1"
    else:
        response = "NTLMv2"
    return Authenticate(
        user=user,
        domain=_text(_payload(msg, 28, "DomainName"), unicode),
        workstation=_text(_payload(msg, 44, "Workstation"), unicode),
        response=response,
        version=_version(msg, flags, 64),
    )
