"""Records of a capture file, with the position of each, and honest truncation reports.

Classic pcap (either byte order, micro- or nanosecond timestamps) is read here record by
record, so a file cut short yields every complete record and then one ``truncated-pcap``
error naming the record number (1-based) and its byte offset. pcapng goes through scapy's
reader (best effort: positions are record numbers only).
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from scapy.config import conf
from scapy.error import Scapy_Exception
from scapy.utils import PcapNgReader

from citysoc.core.errors import CollectorError, Location
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

MAX_RECORD = 256 * 1024  # larger captured lengths mean a corrupt header, not a packet
CHUNK = 1 << 20
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


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """What the first bytes of a capture file say: its kind and, for pcap, its clock."""

    kind: str  # "pcap" or "pcapng"
    endian: str = "<"
    unit: float = 1e-6  # seconds per timestamp fraction (pcap); pcapng: per packet
    linktype: int = 1


def capture_info(path: Path) -> CaptureInfo:
    """Check that ``path`` is a readable capture; raises :class:`CollectorError` if not."""
    try:
        with path.open("rb") as handle:
            head = handle.read(24)
    except OSError as exc:
        raise CollectorError(f"cannot open capture: {exc}", location=Location(str(path))) from exc
    return _info(path, head)


def _info(path: Path, head: bytes) -> CaptureInfo:
    if head[:4] == PCAPNG_MAGIC:
        return CaptureInfo("pcapng")
    if head[:4] not in _MAGICS or len(head) < 24:
        what = (
            "pcap global header cut short"
            if head[:4] in _MAGICS
            else (f"not a pcap file (magic {head[:4].hex() or 'missing'})")
        )
        raise CollectorError(what, location=Location(str(path), offset=0))
    endian, unit = _MAGICS[head[:4]]
    linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
    return CaptureInfo("pcap", endian, unit, linktype)


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
    try:
        info = _info(path, head)
    except CollectorError:
        handle.close()
        raise
    if info.kind == "pcapng":
        handle.close()
        return _pcapng(path, stats)
    return _classic(handle, path, stats, info.endian, info.unit, info.linktype)


def iter_stream_records(stream: IO[bytes], name: str, stats: CollectorStats) -> Iterator[Record]:
    """Records of a classic pcap arriving on a pipe (a live capture), as soon as each lands.

    Blocks until the global header arrives; :class:`CollectorError` if it is not pcap.
    """
    head = b""
    while len(head) < 24:
        more = stream.read(24 - len(head))
        if not more:
            break
        head += more
    info = _info(Path(name), head)
    if info.kind != "pcap":
        raise CollectorError("a live capture must arrive as classic pcap", location=Location(name))
    return _classic_records(stream, Path(name), stats, info.endian, info.unit, info.linktype)


def _classic(
    handle: BinaryIO, path: Path, stats: CollectorStats, endian: str, unit: float, linktype: int
) -> Iterator[Record]:
    with handle:
        yield from _classic_records(handle, path, stats, endian, unit, linktype)


def _classic_records(
    handle: IO[bytes], path: Path, stats: CollectorStats, endian: str, unit: float, linktype: int
) -> Iterator[Record]:
    """Records read in large chunks (one ``read`` per :data:`CHUNK` bytes, not two per record)."""
    header = struct.Struct(endian + "IIII")
    buf, pos, base = b"", 0, 24  # base: file offset of buf[0]
    number = 0
    while True:
        if len(buf) - pos >= 16:
            seconds, fraction, caplen, wirelen = header.unpack_from(buf, pos)
            if caplen > MAX_RECORD:
                where = Location(str(path), record=number + 1, offset=base + pos)
                stats.error("corrupt-pcap", where, f"captured length {caplen} is not plausible")
                return
            end = pos + 16 + caplen
            if end <= len(buf):
                number += 1
                data = buf[pos + 16 : end]
                yield Record(number, base + pos, seconds + fraction * unit, linktype, wirelen, data)
                pos = end
                continue
        more = handle.read1(CHUNK) if isinstance(handle, io.BufferedReader) else handle.read(CHUNK)
        if not more:
            break
        buf, base, pos = buf[pos:] + more, base + pos, 0
    if pos < len(buf):
        _cut_short(path, stats, number + 1, base + pos, buf[pos:], header)


def _cut_short(
    path: Path, stats: CollectorStats, number: int, offset: int, rest: bytes, header: struct.Struct
) -> None:
    where = Location(str(path), record=number, offset=offset)
    if len(rest) < 16:
        stats.error("truncated-pcap", where, f"record header has {len(rest)} of 16 bytes")
        return
    caplen = header.unpack_from(rest, 0)[2]
    if caplen > MAX_RECORD:
        stats.error("corrupt-pcap", where, f"captured length {caplen} is not plausible")
        return
    stats.error("truncated-pcap", where, f"record data has {len(rest) - 16} of {caplen} bytes")


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
