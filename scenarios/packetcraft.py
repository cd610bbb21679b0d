"""Crafting packets for test and demo traffic: whole TCP conversations with consistent
sequence numbers, frames with explicit addresses, and pcap files written in time order.

Nothing here sends a packet: scapy only builds frames, which are written to files.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapWriter

SEED = 6179
ROUTER_MAC = "02:00:00:00:00:fe"

Direction = Literal["c", "s"]
Turn = tuple[Direction, bytes]
Ending = Literal["fin", "rst", "refused", "unanswered", "open"]


def mac_for(ip: str) -> str:
    """A stable locally administered MAC per internal address; the router's for the rest."""
    if not ip.startswith("10."):
        return ROUTER_MAC
    a, b, c, d = (int(x) for x in ip.split("."))
    return f"02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


def frame(src: str, dst: str, l4: Packet, when: float) -> Packet:
    """An Ethernet/IPv4 frame with every address explicit (scapy must never resolve)."""
    pkt: Packet = Ether(src=mac_for(src), dst=mac_for(dst)) / IP(src=src, dst=dst, ttl=64) / l4
    pkt.time = when
    return pkt


def tcp_conversation(
    client: tuple[str, int],
    server: tuple[str, int],
    start: float,
    turns: Sequence[Turn],
    *,
    rng: random.Random,
    ending: Ending = "fin",
    gap: float = 0.004,
) -> list[Packet]:
    """A whole TCP conversation with consistent sequence and acknowledgement numbers.

    ``turns`` are ``("c", payload)`` (client to server) or ``("s", payload)``. ``ending``:
    ``fin`` closes both ways, ``rst`` has the client reset after the turns, ``refused`` is a
    SYN answered by RST (no turns), ``unanswered`` a lone SYN, ``open`` leaves it open.
    """
    (cip, cport), (sip, sport) = client, server
    cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
    when = start
    pkts: list[Packet] = []

    def emit(direction: Direction, flags: str, seq: int, ack: int, data: bytes = b"") -> None:
        nonlocal when
        src, dst, s_port, d_port = (
            (cip, sip, cport, sport) if direction == "c" else (sip, cip, sport, cport)
        )
        seg = TCP(sport=s_port, dport=d_port, flags=flags, seq=seq % 2**32, ack=ack % 2**32)
        seg.window = 64240 if direction == "c" else 65160
        pkts.append(frame(src, dst, seg / Raw(data) if data else seg, when))
        when += gap

    emit("c", "S", cseq, 0)
    if ending == "unanswered":
        return pkts
    if ending == "refused":
        emit("s", "RA", 0, cseq + 1)
        return pkts
    emit("s", "SA", sseq, cseq + 1)
    cseq, sseq = cseq + 1, sseq + 1
    emit("c", "A", cseq, sseq)
    for direction, data in turns:
        if direction == "c":
            emit("c", "PA", cseq, sseq, data)
            cseq += len(data)
        else:
            emit("s", "PA", sseq, cseq, data)
            sseq += len(data)
    if ending == "fin":
        emit("c", "FA", cseq, sseq)
        cseq += 1
        emit("s", "FA", sseq, cseq)
        sseq += 1
        emit("c", "A", cseq, sseq)
    elif ending == "rst":
        emit("c", "RA", cseq, sseq)
    return pkts


@dataclass
class Capture:
    """Packets of several conversations, written in time order."""

    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # noqa: S311
    packets: list[Packet] = field(default_factory=list)

    def add(self, pkts: Sequence[Packet]) -> None:
        self.packets.extend(pkts)

    def ephemeral_port(self) -> int:
        return self.rng.randrange(32768, 60999)

    def tcp(
        self,
        client: str,
        server: tuple[str, int],
        start: float,
        turns: Sequence[Turn],
        ending: Ending = "fin",
    ) -> None:
        port = self.ephemeral_port()
        self.add(
            tcp_conversation((client, port), server, start, turns, rng=self.rng, ending=ending)
        )

    def write(self, path: Path) -> int:
        ordered = sorted(self.packets, key=lambda p: float(p.time))  # stable: ties keep order
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = PcapWriter(str(path), linktype=1, sync=False)
        try:
            for pkt in ordered:
                writer.write(pkt)
        finally:
            writer.close()
        return len(ordered)


def pcap_records(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every complete record of a classic pcap file."""
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    records, offset = [], 24
    while offset + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[offset + 8 : offset + 12])[0]
        if offset + 16 + caplen > len(data):
            break
        records.append((offset, 16 + caplen))
        offset += 16 + caplen
    return records


def write_truncated_pcap(src: Path, dst: Path) -> int:
    """Copy ``src`` cut in the middle of a packet record past its middle.

    Returns the number of complete records kept; the cut record is the next one.
    """
    data = src.read_bytes()
    records = pcap_records(data)
    keep = len(records) // 2
    offset, length = next((r for r in records[keep:] if r[1] > 40), records[keep])
    keep = records.index((offset, length))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: offset + 16 + (length - 16) // 2])
    return keep
