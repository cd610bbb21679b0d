"""Records of a capture file, with the position of each, and honest truncation reports.

Classic pcap (either byte order, micro- or nanosecond timestamps) is read here record by
record, so a file cut short yields every complete record and then one ``truncated-pcap``
error naming the record number (1-based) and its byte offset. pcapng goes through scapy's
reader (best effort: positions are record numbers only).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scapy.config import conf
from scapy.error import Scapy_Exception
from scapy.utils import PcapNgReader

from citysoc.core.errors import CollectorError, Location
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

MAX_RECORD = 256 * 1024  # larger captured lengths mean a corrupt header, not a packet
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame: its number (1-based), byte offset, time, link type and bytes."""

    number: int
    offset: int
    epoch: float
    linktype: int
    wirelen: int
    data: bytes


def iter_records(path: Path, stats: CollectorStats) -> Iterator[Record]:
    """Records of a pcap or pcapng file.

    The file is opened and its header checked at once: :class:`CollectorError` is raised
    here, not on iteration, when it cannot be read or is not a capture.
    """
    try:
        handle = path.open("rb")
        head = handle.read(24)
    except OSError as exc:
        raise CollectorError(f"cannot open capture: {exc}", location=Location(str(path))) from exc
    if head[:4] == PCAPNG_MAGIC:
        handle.close()
        return _pcapng(path, stats)
    if head[:4] not in _MAGICS or len(head) < 24:
        handle.close()
        what = (
            "pcap global header cut short"
            if head[:4] in _MAGICS
            else (f"not a pcap file (magic {head[:4].hex() or 'missing'})")
        )
        raise CollectorError(what, location=Location(str(path), offset=0))
    endian, unit = _MAGICS[head[:4]]
    linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
    return _classic(handle, path, stats, endian, unit, linktype)


def _classic(
    handle: BinaryIO, path: Path, stats: CollectorStats, endian: str, unit: float, linktype: int
) -> Iterator[Record]:
    with handle:
        yield from _classic_records(handle, path, stats, endian, unit, linktype)


def _classic_records(
    handle: BinaryIO, path: Path, stats: CollectorStats, endian: str, unit: float, linktype: int
) -> Iterator[Record]:
    offset, number = 24, 0
    header_format = endian + "IIII"
    while True:
        header = handle.read(16)
        if not header:
            return
        number += 1
        where = Location(str(path), record=number, offset=offset)
        if len(header) < 16:
            stats.error("truncated-pcap", where, f"record header has {len(header)} of 16 bytes")
            return
        seconds, fraction, caplen, wirelen = struct.unpack(header_format, header)
        if caplen > MAX_RECORD:
            stats.error("corrupt-pcap", where, f"captured length {caplen} is not plausible")
            return
        data = handle.read(caplen)
        if len(data) < caplen:
            stats.error("truncated-pcap", where, f"record data has {len(data)} of {caplen} bytes")
            return
        yield Record(number, offset, seconds + fraction * unit, linktype, wirelen, data)
        offset += 16 + caplen


def _pcapng(path: Path, stats: CollectorStats) -> Iterator[Record]:
    try:
        reader = PcapNgReader(str(path))
    except (Scapy_Exception, OSError, EOFError, struct.error) as exc:
        raise CollectorError(f"cannot read pcapng: {exc}", location=Location(str(path))) from exc
    return _pcapng_records(reader, path, stats)


def _pcapng_records(reader: PcapNgReader, path: Path, stats: CollectorStats) -> Iterator[Record]:
    number = 0
    with reader:
        while True:
            number += 1
            try:
                pkt = reader.read_packet()
            except EOFError:
                return
            except (Scapy_Exception, struct.error, ValueError) as exc:
                stats.error("truncated-pcap", Location(str(path), record=number), str(exc))
                return
            linktype = conf.l2types.layer2num.get(type(pkt), 1)
            data = bytes(pkt)
            yield Record(number, 0, float(pkt.time), linktype, int(pkt.wirelen or len(data)), data)
