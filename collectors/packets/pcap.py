"""Packets to ECS events: flows, DNS, HTTP, RTSP, Modbus/TCP, Telnet, SSH and WS-Discovery.

:class:`PacketEngine` turns decoded packets into events, whatever read them: the built-in
file reader (:func:`read_pcap`), the tshark reader (``collectors.sources.tshark``) or a live
capture (``collectors.sources.live``). It yields flat ECS events:

* one ``network_traffic.flow`` event per TCP/UDP conversation (``source`` = initiator;
  ``event.outcome`` is ``success`` when the TCP handshake completed, ``failure`` when it
  did not, so a SYN scan gives failed flows);
* one ``network_traffic.dns`` event per DNS message (UDP port 53);
* one ``network_traffic.http`` / ``network_traffic.rtsp`` event per request, with its
  response when seen, and one ``network_traffic.modbus`` event per Modbus request;
* one ``network_traffic.telnet`` event per Telnet login attempt (user name, outcome; never
  the password); per SSH connection one ``network_traffic.ssh`` handshake event (banners,
  key-exchange algorithms, HASSH) and, past the key exchange, one authentication event
  whose outcome is guessed from the encrypted packets' sizes and counts;
* one ``network_traffic.wsdiscovery`` event per WS-Discovery message (UDP 3702: ONVIF
  probes and the cameras' probe matches with their types, scopes and ``XAddrs``).

RTP/RTCP media (UDP on ports negotiated by RTSP ``SETUP``, or looking like RTP version 2
between unprivileged ports) is skipped and counted as ``rtp-media`` unless
``include_media`` is set. Malformed packets are counted per reason and skipped; a file cut
short yields every complete packet and one ``truncated-pcap`` error.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import Location
from collectors.packets.dns import dns_fields
from collectors.packets.flows import (
    IDLE_TIMEOUT,
    LINGER,
    Endpoint,
    Flow,
    FlowKey,
    flow_key,
    packet_timestamp,
)
from collectors.packets.packet import (
    SYN,
    Datagram,
    MalformedPacketError,
    SkippedPacketError,
    decode,
)
from collectors.packets.protocols import AppRecord, TextSession
from collectors.packets.wsdiscovery import wsdiscovery_fields
from collectors.sources.pcapfile import Record, iter_records
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
logging.getLogger("scapy.loading").setLevel(logging.ERROR)

RTP_PAYLOAD_TYPES = frozenset(range(35)) | frozenset(range(96, 128))
RTCP_TYPES = frozenset(range(200, 207))
SWEEP_EVERY = 1.0
WSD_PORT = 3702
DatagramParser = tuple[str, Callable[[bytes], Event], str, tuple[str, ...]]
# flow protocol -> (dataset, parser, error reason, fields that make the event id unique)
DATAGRAM_PARSERS: dict[str, DatagramParser] = {
    "dns": ("network_traffic.dns", dns_fields, "undecodable-dns", ("dns.id", "dns.type")),
    "ws-discovery": (
        "network_traffic.wsdiscovery",
        wsdiscovery_fields,
        "undecodable-wsdiscovery",
        ("wsdiscovery.message_id", "wsdiscovery.message"),
    ),
}


def looks_like_rtp(d: Datagram) -> bool:
    """RTP or RTCP version 2 between unprivileged ports (a heuristic, as Wireshark's)."""
    if d.transport != "udp" or d.sport < 1024 or d.dport < 1024 or len(d.payload) < 8:
        return False
    if d.payload[0] >> 6 != 2:
        return False
    if d.payload[1] in RTCP_TYPES:
        return True
    return len(d.payload) >= 12 and d.payload[1] & 0x7F in RTP_PAYLOAD_TYPES


class PacketEngine:
    """The state of one read: open flows, learned media endpoints, the clock.

    Feed it with :meth:`packet` (a decoded datagram) or :meth:`record` (a raw frame), then
    call :meth:`finish` once for the flows still open.
    """

    def __init__(
        self, stats: CollectorStats, *, source: str = "packets", include_media: bool = False
    ) -> None:
        self.stats = stats
        self.source = source
        self.include_media = include_media
        self.flows: dict[FlowKey, Flow] = {}
        # open flows by last activity (per idle timeout), closed ones by closing time
        self.idle: dict[str, OrderedDict[FlowKey, None]] = {
            "tcp": OrderedDict(),
            "udp": OrderedDict(),
            "unanswered": OrderedDict(),  # TCP flows whose server has sent nothing yet
            "closed": OrderedDict(),
        }
        self.media: set[Endpoint] = set()
        self.last_sweep = 0.0

    def where(self, record: int, offset: int | None) -> Location:
        return Location(self.source, record=record, offset=offset)

    def events(self, records: Iterator[Record]) -> Iterator[Event]:
        """Every event of a sequence of raw frames, open flows included at the end."""
        stats = self.stats
        for r in records:
            stats.received += 1
            yield from self.record(r.linktype, r.data, r.epoch, r.wirelen, r.number, r.offset)
        yield from self.finish()

    def record(
        self,
        linktype: int,
        data: bytes,
        when: float,
        wirelen: int,
        number: int,
        offset: int | None = None,
    ) -> Iterator[Event]:
        """Events completed by one raw frame (``stats.received`` is the caller's to count)."""
        try:
            d = decode(linktype, data)
        except MalformedPacketError as exc:
            self.stats.error(exc.reason, self.where(number, offset), str(exc))
            return iter(())
        except SkippedPacketError as exc:
            self.stats.skip(exc.reason)
            return iter(())
        return self.packet(d, when, wirelen, number, offset)

    def packet(
        self, d: Datagram, when: float, wirelen: int, number: int, offset: int | None = None
    ) -> Iterator[Event]:
        """Events completed by one decoded packet (number and offset locate errors)."""
        self.stats.parsed += 1
        if when - self.last_sweep >= SWEEP_EVERY:
            yield from self._sweep(when)
        if d.transport == "udp" and not self.include_media and self._is_media(d):
            self.stats.skip("rtp-media")
            return
        yield from self._packet(d, when, wirelen, number, offset)

    def finish(self) -> Iterator[Event]:
        """Close every flow still open (end of the input)."""
        for flow in list(self.flows.values()):
            yield from self._close(flow)
        self.flows.clear()
        for order in self.idle.values():
            order.clear()

    def _is_media(self, d: Datagram) -> bool:
        if (d.dst, d.dport) in self.media or (d.src, d.sport) in self.media:
            return True
        return looks_like_rtp(d)

    def _packet(
        self, d: Datagram, when: float, wirelen: int, number: int, offset: int | None
    ) -> Iterator[Event]:
        key = flow_key(d)
        flow = self.flows.get(key)
        new_syn = d.transport == "tcp" and d.flags & 0x12 == SYN
        if flow is not None and new_syn and (flow.closed_at is not None or flow.established):
            yield from self._close(flow)
            flow = None
        if flow is None:
            flow = self.flows[key] = Flow.open(d, when)
            if d.transport == "udp" and (d.sport == 53 or d.dport == 53):
                flow.protocol = "dns"
            elif d.transport == "udp" and WSD_PORT in (d.sport, d.dport):
                flow.protocol = "ws-discovery"
            elif d.transport == "udp" and looks_like_rtp(d):
                flow.protocol = "rtp"
        records = flow.add(d, when, wirelen)
        if flow.closed_at is None:
            kind = d.transport
            if kind == "tcp" and not flow.packets[1]:
                kind = "unanswered"
            elif kind == "tcp":
                self.idle["unanswered"].pop(key, None)
            self.idle[kind][key] = None
            self.idle[kind].move_to_end(key)
        elif key not in self.idle["closed"]:
            self.idle[d.transport].pop(key, None)
            self.idle["unanswered"].pop(key, None)
            self.idle["closed"][key] = None
        for record in records:
            yield self._emit(flow.app_event(record))
        if d.payload and flow.session is not None:
            self._session_errors(flow, self.where(number, offset))
        if records and isinstance(flow.session, TextSession):
            self._learn_media(flow, flow.session, self.where(number, offset))
        if d.transport == "udp" and d.payload and flow.protocol in DATAGRAM_PARSERS:
            yield from self._datagram(flow, d.payload, when, self.where(number, offset))

    def _datagram(
        self, flow: Flow, payload: bytes, when: float, where: Location
    ) -> Iterator[Event]:
        dataset, parse, reason, key_fields = DATAGRAM_PARSERS[str(flow.protocol)]
        try:
            fields = parse(payload)
        except ValueError as exc:
            self.stats.error(reason, where, str(exc))
            return
        event = flow.base()
        event.update(fields)
        event["@timestamp"] = packet_timestamp(when)
        event["event.dataset"] = dataset
        keys = (fields.get(name, "") for name in key_fields)
        event["event.id"] = ecs.event_id(dataset, flow.community_id, f"{when:.6f}", *keys, at=when)
        yield self._emit(event)

    def _session_errors(self, flow: Flow, where: Location) -> None:
        """Count and log what a session decoder found malformed (decoders that report it
        have a ``take_errors`` method giving ``(reason, detail)`` pairs)."""
        take = getattr(flow.session, "take_errors", None)
        if take is not None:
            for reason, detail in take():
                self.stats.error(reason, where, detail)

    def _learn_media(self, flow: Flow, session: TextSession, where: Location) -> None:
        for reason, detail in session.take_refused():
            self.stats.error(reason, where, detail)
        for side, port in session.media_ports:
            self.media.add((flow.client[0] if side == "client_port" else flow.server[0], port))

    def _sweep(self, now: float) -> Iterator[Event]:
        """Close flows idle too long and closed flows past their linger (oldest first)."""
        self.last_sweep = now
        for kind, order in self.idle.items():
            expired = []
            for key in order:
                flow = self.flows[key]
                if kind == "closed":
                    if now - (flow.closed_at or flow.end) <= LINGER:
                        break
                elif now - flow.end <= IDLE_TIMEOUT[kind]:
                    break
                expired.append(flow)
            for flow in expired:
                yield from self._close(flow)

    def _close(self, flow: Flow) -> Iterator[Event]:
        key = flow.key
        if self.flows.get(key) is flow:
            del self.flows[key]
            for order in self.idle.values():
                order.pop(key, None)
        records: list[AppRecord] = flow.finish()
        for record in records:
            yield self._emit(flow.app_event(record))
        if flow.session is not None:
            self._session_errors(flow, Location(self.source))
        yield self._emit(flow.flow_event())

    def _emit(self, event: Event) -> Event:
        self.stats.events += 1
        return event


Progress = Callable[[int], None]
PROGRESS_EVERY = 4096  # records between two progress reports


def read_pcap(
    path: Path,
    stats: CollectorStats,
    *,
    include_media: bool = False,
    progress: Progress | None = None,
) -> Iterator[Event]:
    """Events of a capture file; raises ``CollectorError`` at once if it cannot be read.

    ``progress`` is called now and then with the number of bytes of the file read so far.
    """
    records = iter_records(path, stats)
    if progress is not None:
        records = _reporting(records, progress, path.stat().st_size)
    return PacketEngine(stats, source=str(path), include_media=include_media).events(records)


def _reporting(records: Iterator[Record], progress: Progress, size: int) -> Iterator[Record]:
    for record in records:
        if record.number % PROGRESS_EVERY == 0:
            progress(record.offset)
        yield record
    progress(size)
