"""Capture files read by tshark's dissectors, turned into events by the same engine.

``tshark -r FILE -T fields`` decodes the link, network and transport headers (every link type,
tunnel and capture format Wireshark knows) and prints one line per frame with the addresses,
ports, TCP flags and raw sequence numbers and the payload in hex. Each line becomes a
:class:`~collectors.packets.packet.Datagram` fed to
:class:`~collectors.packets.pcap.PacketEngine`, so flows, reassembly and application events are
exactly those of the built-in reader.

Only the dissectors below the payload run (``--disable-protocol ALL`` then the link,
IP, TCP and UDP ones), IP defragmentation and TCP desegmentation are off: tshark's analysis
of sequence numbers (its "out-of-order" calls on crafted traffic) plays no part.

Where the readers differ, by design: a malformed header is counted as
``malformed-<layer>`` (tshark's name for the layer, e.g. ``malformed-ipv4``) rather than
the built-in reader's ``truncated-ipv4`` or ``bad-tcp-header``; tshark's messages on
stderr (``cut short in the middle of a packet``) become errors with the record number
and, for pcap files, the byte offset where the cut record starts.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.packets.packet import Datagram
from collectors.packets.pcap import PacketEngine, Progress
from collectors.sources.pcapfile import CaptureInfo, capture_info
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

FIELDS = (
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "frame.cap_len",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "ip.flags.mf",
    "ip.frag_offset",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.payload",
    "udp.srcport",
    "udp.dstport",
    "udp.payload",
    "_ws.malformed",
)
DISSECTORS = "frame,eth,ethertype,vlan,sll,null,raw,ip,ipv6,tcp,udp"
STDERR_REASONS = (
    ("cut short in the middle of a packet", "truncated-pcap"),
    ("damaged or corrupt", "corrupt-pcap"),
)
IGNORED_STDERR = ("Running as user",)


def tshark_command(path: Path, tshark: str = "tshark") -> list[str]:
    """The tshark command line that prints one field line per frame of ``path``."""
    command = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    command += ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
    command += ["-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"]
    command += ["--disable-protocol", "ALL", "--enable-protocol", DISSECTORS]
    for name in FIELDS:
        command += ["-e", name]
    return command


class _Frames:
    """Reads tshark's field lines of one file into the engine, keeping the position."""

    def __init__(self, path: Path, info: CaptureInfo, stats: CollectorStats) -> None:
        self.path = path
        self.info = info
        self.stats = stats
        self.number = 0
        self.offset = 24 if info.kind == "pcap" else 0

    def where(self) -> Location:
        offset = self.offset if self.info.kind == "pcap" else None
        return Location(str(self.path), record=self.number, offset=offset)

    def epoch(self, text: str) -> float:
        if self.info.kind != "pcap":
            return float(text)
        seconds, _, fraction = text.partition(".")
        if self.info.unit == 1e-6:
            return int(seconds) + int(fraction[:6] or 0) * self.info.unit
        return int(seconds) + int(fraction[:9].ljust(9, "0")) * self.info.unit

    def line(self, engine: PacketEngine, line: str) -> Iterator[Event]:
        values = line.rstrip("\n").split("\t")
        if len(values) != len(FIELDS):
            self.stats.error("tshark-output", self.where(), f"{len(values)} fields in {line!r}")
            return iter(())
        self.number = int(values[0])
        self.stats.received += 1
        offset = self.offset if self.info.kind == "pcap" else None
        self.offset += 16 + int(values[3])
        when, wirelen = self.epoch(values[1]), int(values[2])
        d = self.datagram(values)
        if d is None:
            return iter(())
        return engine.packet(d, when, wirelen, self.number, offset)

    def _malformed(self, v: list[str]) -> bool:
        """Count a frame tshark calls malformed below the transport payload."""
        if not v[21]:
            return False
        layer = v[21].partition(": ")[2].rstrip("]").lower() or "packet"
        self.stats.error(f"malformed-{layer}", self.where(), "tshark: malformed packet")
        return True

    def datagram(self, v: list[str]) -> Datagram | None:
        (src4, dst4, src6, dst6, proto4, proto6, more, frag) = v[4:12]
        where = self.where()
        version, src, dst, proto = (4, src4, dst4, proto4) if src4 else (6, src6, dst6, proto6)
        if not src:
            if not self._malformed(v):
                self.stats.skip("non-ip")
            return None
        if version == 6:  # the first next-header may be an extension header
            proto = "6" if v[12] else "17" if v[18] else proto
        if more == "1" or frag not in ("", "0"):
            self.stats.skip("ip-fragment")
            return None
        if proto == "6" and v[12]:
            flags = int(v[14], 16) & 0x1FF
            payload = bytes.fromhex(v[17])
            return Datagram(
                src,
                dst,
                int(v[12]),
                int(v[13]),
                "tcp",
                version,
                flags,
                int(v[15]),
                int(v[16]),
                payload,
            )
        if proto == "17" and v[18]:
            payload = bytes.fromhex(v[20])
            return Datagram(src, dst, int(v[18]), int(v[19]), "udp", version, 0, 0, 0, payload)
        if proto in ("6", "17"):
            if not self._malformed(v):
                reason = "truncated-tcp" if proto == "6" else "truncated-udp"
                self.stats.error(reason, where, "tshark found no transport header")
            return None
        self.stats.skip("non-tcp-udp")
        return None


def read_pcap_tshark(
    path: Path,
    stats: CollectorStats,
    *,
    include_media: bool = False,
    progress: Progress | None = None,
    tshark: str | None = None,
) -> Iterator[Event]:
    """Events of a capture file decoded by tshark; ``CollectorError`` if it cannot start."""
    info = capture_info(path)
    program = shutil.which(tshark or "tshark")
    if program is None:
        raise CollectorError("tshark is not installed (Debian: apt-get install tshark)")
    return _events(path, info, stats, include_media, progress, program)


def _events(
    path: Path,
    info: CaptureInfo,
    stats: CollectorStats,
    include_media: bool,
    progress: Progress | None,
    program: str,
) -> Iterator[Event]:
    frames = _Frames(path, info, stats)
    engine = PacketEngine(stats, source=str(path), include_media=include_media)
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(  # noqa: S603 - fixed program, arguments are not a shell line
            tshark_command(path, program),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            bufsize=1 << 20,
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                yield from frames.line(engine, line)
                if progress is not None and frames.number % 4096 == 0:
                    progress(frames.offset)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        _stderr(errors, frames, stats, process.returncode)
    yield from engine.finish()
    if progress is not None:
        progress(path.stat().st_size)


def _stderr(errors: IO[str], frames: _Frames, stats: CollectorStats, returncode: int) -> None:
    errors.seek(0)
    counted = False
    frames.number += 1  # what tshark complains about is the record after the last it read
    for raw in errors:
        message = raw.strip()
        if not message or message.startswith(IGNORED_STDERR):
            continue
        reason = next((r for text, r in STDERR_REASONS if text in message), "tshark-error")
        stats.error(reason, frames.where(), message)
        counted = True
    if returncode not in (0, None) and not counted:
        stats.error("tshark-error", frames.where(), f"tshark exited with status {returncode}")
