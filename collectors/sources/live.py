"""Live capture from a network interface, through tshark, into the packet engine.

``tshark -i IFACE -f BPF -w - -F pcap`` captures (with the kernel's BPF filter) and writes
classic pcap to a pipe; :func:`~collectors.sources.pcapfile.iter_stream_records` reads each record
as it lands and :class:`~collectors.packets.pcap.PacketEngine` turns them into events, exactly as
for files. tshark runs in its own session, so a Ctrl-C reaches only the collector, which
asks tshark to stop (:meth:`LiveCapture.stop`); tshark flushes, the pipe ends, and the
flows still open are reported. ``duration`` and ``count`` are tshark's own autostop
conditions. ``netns`` runs tshark inside a network namespace (``ip netns exec``), for the
range's namespace hosts.

Camera video is the bulk of a city's traffic and not what the SOC watches: unless media is
asked for, the capture filter leaves out RTP-looking UDP (version 2 between unprivileged
ports, IPv4) in the kernel, and the engine skips the RTP it still sees (IPv6, ports learned
from RTSP ``SETUP``).
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.packets.pcap import PacketEngine
from collectors.sources.pcapfile import iter_stream_records
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

MEDIA_FILTER = "not (ip and udp and udp[0:2] > 1023 and udp[2:2] > 1023 and udp[8] & 0xc0 = 0x80)"
LISTENING, STARTED = "Capturing on", "Capture started"
FLUSH_SECONDS = 1.2
SETTLE_SECONDS = 2.0  # tshark versions that do not say "Capture started": wait this long
DROPPED = re.compile(r"(\d+) packets? dropped")
QUIET = re.compile(
    r"^(?:Running as user|Capturing on|\*\*|tshark:$)|packets? captured|packets? dropped"
)


@dataclass(frozen=True)
class LiveOptions:
    """What to capture and when to stop (``None``: until stopped)."""

    interface: str
    bpf: str | None = None
    duration: float | None = None
    count: int | None = None
    include_media: bool = False
    netns: str | None = None
    buffer_mib: int | None = None  # the kernel capture buffer (tshark -B); None: tshark's 2 MiB


def capture_filter(bpf: str | None, include_media: bool) -> str | None:
    """The kernel filter: the user's, and without RTP media unless it is wanted."""
    if include_media:
        return bpf or None
    return f"({bpf}) and {MEDIA_FILTER}" if bpf else MEDIA_FILTER


def capture_command(options: LiveOptions, tshark: str = "tshark") -> list[str]:
    command = ["ip", "netns", "exec", options.netns] if options.netns else []
    command += [tshark, "-n", "-i", options.interface, "-w", "-", "-F", "pcap"]
    if options.buffer_mib is not None:
        command += ["-B", str(options.buffer_mib)]
    kernel_filter = capture_filter(options.bpf, options.include_media)
    if kernel_filter:
        command += ["-f", kernel_filter]
    if options.duration is not None:
        command += ["-a", f"duration:{max(1, round(options.duration))}"]
    if options.count is not None:
        command += ["-c", str(options.count)]
    return command


class LiveCapture:
    """One running capture: :meth:`start`, iterate :meth:`events`, :meth:`stop` any time."""

    def __init__(self, options: LiveOptions, stats: CollectorStats) -> None:
        self.options = options
        self.stats = stats
        self.name = f"iface:{options.interface}"
        self.ready = threading.Event()
        self.messages: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr_reader: threading.Thread | None = None

    def start(self, ready_timeout: float = 10.0) -> None:
        """Start tshark and wait until it captures; ``CollectorError`` if it cannot."""
        tshark = shutil.which("tshark")
        if tshark is None:
            raise CollectorError("live capture needs tshark (Debian: apt-get install tshark)")
        command = capture_command(self.options, tshark)
        log.info("capturing: %s", " ".join(command))
        self.process = subprocess.Popen(  # noqa: S603 - fixed program, argument list
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        if not self.ready.wait(ready_timeout) or self.process.poll() not in (None, 0):
            self.stop(grace=0)
            self.process.wait(5)
            detail = "; ".join(m for m in self.messages if not QUIET.search(m))
            raise CollectorError(
                f"capture did not start: {detail or 'no answer from tshark'}",
                location=Location(self.name),
            )

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in self.process.stderr:
            message = raw.decode("utf-8", "replace").strip()
            if not message:
                continue
            self.messages.append(message)
            if STARTED in message:
                self.ready.set()
            elif message.startswith(LISTENING):
                threading.Timer(SETTLE_SECONDS, self.ready.set).start()
        self.ready.set()  # tshark ended: whoever waits learns it from the exit status

    def stop(self, grace: float = FLUSH_SECONDS) -> None:
        """Ask tshark to finish after ``grace`` seconds; returns at once, safe to call twice.

        The kernel hands captured packets over in blocks, at the latest after its buffer
        timeout (libpcap's default is one second): stopping sooner loses the last ones.
        """
        if grace > 0:
            timer = threading.Timer(grace, self.stop, kwargs={"grace": 0})
            timer.daemon = True
            timer.start()
        elif self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def events(self) -> Iterator[Event]:
        """Events as packets arrive; open flows are reported when the capture ends."""
        assert self.process is not None and self.process.stdout is not None
        engine = PacketEngine(
            self.stats, source=self.name, include_media=self.options.include_media
        )
        try:
            records = iter_stream_records(self.process.stdout, self.name, self.stats)
            for r in records:
                self.stats.received += 1
                yield from engine.record(r.linktype, r.data, r.epoch, r.wirelen, r.number)
        finally:
            self.stop(grace=0)
            self.process.wait()
            if self._stderr_reader is not None:
                self._stderr_reader.join(5)
            self._report()
        yield from engine.finish()

    def _report(self) -> None:
        where = Location(self.name)
        for message in self.messages:
            dropped = DROPPED.search(message)
            if dropped and int(dropped.group(1)):
                self.stats.error("capture-dropped", where, message)
            elif not QUIET.search(message):
                self.stats.error("capture-error", where, message)
