"""Community ID v1 flow hashes, as the Community ID specification defines them.

The hash of a flow is ``"1:" + base64(sha1(seed . saddr . daddr . proto . 0 . sport . dport))``
with the seed, addresses and ports in network byte order and the endpoints ordered so that the
smaller address (then port) comes first: both directions of a flow hash alike.

- TCP, UDP and SCTP hash their ports.
- ICMP and ICMPv6 hash the message type and, as ports, either the type of the message that
  answers it (echo request and reply, router solicitation and advertisement, ...: both
  directions hash alike) or, for a message without a counterpart, its code; such a one-way
  message keeps its endpoints in the order seen.
- Any other IP protocol hashes the addresses and the protocol number alone.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct

TCP, UDP, ICMP, ICMP6, SCTP = 6, 17, 1, 58, 132
PORTED = frozenset({TCP, UDP, SCTP})
PROTOCOL_NUMBERS = {
    "icmp": ICMP,
    "igmp": 2,
    "tcp": TCP,
    "udp": UDP,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": ICMP6,
    "icmpv6": ICMP6,
    "sctp": SCTP,
}
# ICMP message types and the type of the message that answers them (both ways).
ICMP_COUNTERPART = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
ICMP6_COUNTERPART = {
    128: 129,
    129: 128,
    130: 131,
    131: 130,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}


def protocol_number(name: object) -> int | None:
    """An IP protocol number from Suricata's ``proto`` (``TCP``, ``IPv6-ICMP``, ``47``)."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name if 0 <= name <= 255 else None
    if not isinstance(name, str):
        return None
    if name.isdigit():
        number = int(name)
        return number if number <= 255 else None
    return PROTOCOL_NUMBERS.get(name.lower())


def community_id(
    source: str,
    destination: str,
    protocol: int,
    source_port: int | None = None,
    destination_port: int | None = None,
    *,
    seed: int = 0,
) -> str | None:
    """The Community ID v1 of one flow, or ``None`` when its tuple cannot make one.

    For ICMP and ICMPv6, ``source_port`` is the message type and ``destination_port`` its
    code. Addresses are text (IPv4 or IPv6, both of one family).
    """
    try:
        a, b = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    except ValueError:
        return None
    if a.version != b.version or not 0 <= protocol <= 255 or not 0 <= seed <= 0xFFFF:
        return None
    a_bytes, b_bytes = a.packed, b.packed
    ports: tuple[int, int] | None = None
    one_way = False
    if protocol in (ICMP, ICMP6):
        if source_port is None or destination_port is None:
            return None
        counterpart = (ICMP_COUNTERPART if protocol == ICMP else ICMP6_COUNTERPART).get(source_port)
        if counterpart is None:
            ports, one_way = (source_port, destination_port), True
        else:
            ports = (source_port, counterpart)
    elif protocol in PORTED:
        if source_port is None or destination_port is None:
            return None
        ports = (source_port, destination_port)
    if ports is not None and not all(0 <= p <= 0xFFFF for p in ports):
        return None
    if not one_way and _after(a_bytes, b_bytes, ports):
        a_bytes, b_bytes = b_bytes, a_bytes
        ports = (ports[1], ports[0]) if ports is not None else None
    data = struct.pack("!H", seed) + a_bytes + b_bytes + bytes((protocol, 0))
    if ports is not None:
        data += struct.pack("!HH", *ports)
    digest = hashlib.sha1(data).digest()  # noqa: S324  # the specification's hash
    return "1:" + base64.b64encode(digest).decode("ascii")


def _after(a: bytes, b: bytes, ports: tuple[int, int] | None) -> bool:
    """Whether endpoint ``a`` sorts after ``b`` (addresses first, then ports)."""
    if a != b:
        return a > b
    return ports is not None and ports[0] > ports[1]
