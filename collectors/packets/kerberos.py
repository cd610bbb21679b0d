"""The clear part of a Kerberos AP-REQ (RFC 4120 5.5.1) found in a security blob: the
ticket's realm and service principal (``cifs/fs01.example``), which name the server a client
authenticates to. The client's own name is inside the encrypted authenticator and is never
seen. The token is located by its GSS-API framing (RFC 4121 4.1: the Kerberos mechanism's
OID, then the AP-REQ token id), so it reads the same inside SPNEGO or bare.

A minimal DER reader: every tag, length and value is checked against its enclosing value;
anything that does not fit raises :class:`KerberosError`.
"""

from __future__ import annotations

from dataclasses import dataclass

MECHANISMS = (
    b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02",  # 1.2.840.113554.1.2.2
    b"\x06\x09\x2a\x86\x48\x82\xf7\x12\x01\x02\x02",  # 1.2.840.48018.1.2.2 (Microsoft's)
)
AP_REQ_TOKEN = b"\x01\x00"
AP_REQ, TICKET, SEQUENCE = 0x6E, 0x61, 0x30
NAMES_MAX = 8  # components read from one principal name
NAME_MAX = 256


class KerberosError(ValueError):
    """A Kerberos token whose DER does not fit together."""


@dataclass(frozen=True)
class Ticket:
    realm: str
    service: str  # the components of the service principal joined with "/"

    @property
    def host(self) -> str | None:
        """The host of a ``service/host`` principal."""
        parts = self.service.split("/")
        return parts[1] if len(parts) >= 2 and parts[1] else None


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """``(tag, value, where the next TLV starts)`` of the DER element at ``at``."""
    if at + 2 > len(data):
        raise KerberosError(f"a DER element at {at} past the end ({len(data)} bytes)")
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        size = first & 0x7F
        if not 1 <= size <= 3 or at + size > len(data):
            raise KerberosError(f"a DER length of {size} bytes at {at - 1}")
        length = int.from_bytes(data[at : at + size], "big")
        at += size
    else:
        length = first
    if at + length > len(data):
        raise KerberosError(f"a DER value of {length} bytes at {at}, {len(data) - at} left")
    return tag, data[at : at + length], at + length


def _fields(data: bytes) -> dict[int, bytes]:
    """The ``[n]``-tagged fields of a DER SEQUENCE's content, by ``n``."""
    fields, at = {}, 0
    for _ in range(16):
        if at >= len(data):
            break
        tag, value, at = _tlv(data, at)
        if tag & 0xE0 == 0xA0:
            fields[tag & 0x1F] = value
    return fields


def _expect(data: bytes, tag: int, what: str) -> bytes:
    found, value, _ = _tlv(data, 0)
    if found != tag:
        raise KerberosError(f"{what}: tag 0x{found:02x}, expected 0x{tag:02x}")
    return value


def _string(data: bytes) -> str:
    _tag, value, _ = _tlv(data, 0)
    return value.decode("utf-8", "replace")[:NAME_MAX]


def ap_req_ticket(blob: bytes) -> Ticket | None:
    """The realm and service of the first AP-REQ in a security blob, if there is one."""
    for mechanism in MECHANISMS:
        at = blob.find(mechanism + AP_REQ_TOKEN)
        if at >= 0:
            break
    else:
        return None
    token = blob[at + len(mechanism) + len(AP_REQ_TOKEN) :]
    request = _fields(_expect(_expect(token, AP_REQ, "AP-REQ"), SEQUENCE, "AP-REQ body"))
    if 3 not in request:
        raise KerberosError("an AP-REQ without a ticket")
    ticket = _fields(_expect(_expect(request[3], TICKET, "Ticket"), SEQUENCE, "Ticket body"))
    if 1 not in ticket or 2 not in ticket:
        raise KerberosError("a ticket without its realm or service name")
    name = _fields(_expect(ticket[2], SEQUENCE, "PrincipalName"))
    parts: list[str] = []
    at = 0
    names = _expect(name.get(1, b"\x30\x00"), SEQUENCE, "name-string")
    while at < len(names) and len(parts) < NAMES_MAX:
        _tag, value, at = _tlv(names, at)
        parts.append(value.decode("utf-8", "replace")[:NAME_MAX])
    return Ticket(realm=_string(ticket[1]), service="/".join(parts))
