"""Link, network and transport decoding of one captured frame, with plain ``struct``.

Hand decoding of the few headers a flow needs is some hundred times faster than a full
scapy dissection and lets every malformed header be named precisely; scapy still reads
pcapng files and dissects DNS. Supported links: Ethernet (with 802.1Q/802.1ad tags),
Linux cooked v1/v2, raw IP and BSD loopback.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

ETHERNET, NULL, RAW, RAW_ALT, LINUX_SLL, RAW_IPV4, RAW_IPV6, LINUX_SLL2 = (
    1,
    0,
    101,
    12,
    113,
    228,
    229,
    276,
)
TCP, UDP = 6, 17
_IPV4_FAST = struct.Struct("!H2xH1xB")  # total length, fragment field, protocol
_TCP_FAST = struct.Struct("!HHIIH")
_UDP_FAST = struct.Struct("!HHH")
_AF_INET = socket.AF_INET
_ntop = socket.inet_ntop
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class MalformedPacketError(ValueError):
    """A header is shorter than it must be or contradicts itself; ``reason`` names which."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SkippedPacketError(Exception):
    """A well-formed packet that flows do not cover (ARP, ICMP, fragments, ...)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Datagram:
    """The part of a packet that flows and protocol parsers use."""

    src: str
    dst: str
    sport: int
    dport: int
    transport: str  # "tcp" or "udp"
    ip_version: int
    flags: int  # TCP flags, 0 for UDP
    seq: int
    ack: int
    payload: bytes


def decode(linktype: int, data: bytes) -> Datagram:
    """Decode a frame; raises :class:`MalformedPacketError` or :class:`SkippedPacketError`."""
    if linktype == ETHERNET and data[12:15] == b"\x08\x00\x45" and len(data) >= 54:
        fast = _ethernet_ipv4(data)
        if fast is not None:
            return fast
    ethertype, offset = _link(linktype, data)
    if ethertype == 0x0800:
        return _ipv4(data, offset)
    if ethertype == 0x86DD:
        return _ipv6(data, offset)
    raise SkippedPacketError("non-ip")


def _ethernet_ipv4(data: bytes) -> Datagram | None:
    """The common case (Ethernet, IPv4 without options, whole TCP or UDP header) in one go.

    ``None`` sends anything else, and anything wrong, down the general path that names it.
    """
    total, frag, proto = _IPV4_FAST.unpack_from(data, 16)
    end = min(len(data), 14 + total)
    if total < 20 or frag & 0x3FFF or end < 42:
        return None
    src = _ntop(_AF_INET, data[26:30])
    dst = _ntop(_AF_INET, data[30:34])
    if proto == TCP and end >= 54:
        sport, dport, seq, ack, off_flags = _TCP_FAST.unpack_from(data, 34)
        header = (off_flags >> 12) * 4
        if 20 <= header <= end - 34:
            return Datagram(
                src,
                dst,
                sport,
                dport,
                "tcp",
                4,
                off_flags & 0x1FF,
                seq,
                ack,
                data[34 + header : end],
            )
    elif proto == UDP:
        sport, dport, length = _UDP_FAST.unpack_from(data, 34)
        if length >= 8:
            return Datagram(
                src, dst, sport, dport, "udp", 4, 0, 0, 0, data[42 : min(end, 34 + length)]
            )
    return None


def _link(linktype: int, data: bytes) -> tuple[int, int]:
    if linktype == ETHERNET:
        _need(data, 14, "truncated-ethernet")
        ethertype, offset = struct.unpack_from("!H", data, 12)[0], 14
        while ethertype in (0x8100, 0x88A8):
            _need(data, offset + 4, "truncated-vlan")
            ethertype, offset = struct.unpack_from("!H", data, offset + 2)[0], offset + 4
        return ethertype, offset
    if linktype == LINUX_SLL:
        _need(data, 16, "truncated-sll")
        return struct.unpack_from("!H", data, 14)[0], 16
    if linktype == LINUX_SLL2:
        _need(data, 20, "truncated-sll2")
        return struct.unpack_from("!H", data, 0)[0], 20
    if linktype == NULL:
        _need(data, 4, "truncated-loopback")
        family = struct.unpack_from("=I", data, 0)[0]
        return (0x0800 if family == 2 else 0x86DD if family in (10, 24, 28, 30) else 0), 4
    if linktype in (RAW, RAW_ALT, RAW_IPV4, RAW_IPV6):
        _need(data, 1, "empty-packet")
        version = data[0] >> 4
        return (0x0800 if version == 4 else 0x86DD if version == 6 else 0), 0
    raise SkippedPacketError(f"linktype-{linktype}")


def _need(data: bytes, size: int, reason: str) -> None:
    if len(data) < size:
        raise MalformedPacketError(reason, f"{len(data)} bytes, need {size}")


def _ipv4(data: bytes, offset: int) -> Datagram:
    _need(data, offset + 20, "truncated-ipv4")
    ver_ihl, proto = data[offset], data[offset + 9]
    total, frag = struct.unpack_from("!H2xH", data, offset + 2)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < 20 or total < ihl:
        raise MalformedPacketError("bad-ipv4-header", f"version/ihl {ver_ihl:#x}, length {total}")
    _need(data, offset + ihl, "truncated-ipv4")
    if frag & 0x3FFF:
        raise SkippedPacketError("ip-fragment")
    src = socket.inet_ntop(socket.AF_INET, data[offset + 12 : offset + 16])
    dst = socket.inet_ntop(socket.AF_INET, data[offset + 16 : offset + 20])
    end = min(len(data), offset + total)  # drops Ethernet padding, tolerates snaplen cuts
    return _transport(proto, data[offset + ihl : end], src, dst, 4)


def _ipv6(data: bytes, offset: int) -> Datagram:
    _need(data, offset + 40, "truncated-ipv6")
    if data[offset] >> 4 != 6:
        raise MalformedPacketError("bad-ipv6-header", f"version {data[offset] >> 4}")
    length, proto = struct.unpack_from("!HB", data, offset + 4)
    src = socket.inet_ntop(socket.AF_INET6, data[offset + 8 : offset + 24])
    dst = socket.inet_ntop(socket.AF_INET6, data[offset + 24 : offset + 40])
    end = min(len(data), offset + 40 + length)
    pos = offset + 40
    while proto in (0, 43, 60):  # hop-by-hop, routing, destination options
        _need(data, pos + 2, "truncated-ipv6-extension")
        proto, pos = data[pos], pos + (data[pos + 1] + 1) * 8
    if proto == 44:
        raise SkippedPacketError("ip-fragment")
    return _transport(proto, data[pos:end], src, dst, 6)


def _transport(proto: int, seg: bytes, src: str, dst: str, version: int) -> Datagram:
    if proto == TCP:
        _need(seg, 20, "truncated-tcp")
        sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", seg, 0)
        header = (off_flags >> 12) * 4
        if header < 20 or header > len(seg):
            raise MalformedPacketError("bad-tcp-header", f"data offset {header}")
        return Datagram(
            src, dst, sport, dport, "tcp", version, off_flags & 0x1FF, seq, ack, bytes(seg[header:])
        )
    if proto == UDP:
        _need(seg, 8, "truncated-udp")
        sport, dport, length = struct.unpack_from("!HHH", seg, 0)
        if length < 8:
            raise MalformedPacketError("bad-udp-header", f"length {length}")
        return Datagram(src, dst, sport, dport, "udp", version, 0, 0, 0, bytes(seg[8:length]))
    raise SkippedPacketError("non-tcp-udp")
