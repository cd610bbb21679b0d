"""Capture files to ECS events: flows, DNS, HTTP, RTSP and Modbus/TCP.

:func:`read_pcap` reads a pcap (or pcapng) file and yields flat ECS events:

* one ``network_traffic.flow`` event per TCP/UDP conversation (``source`` = initiator;
  ``event.outcome`` is ``success`` when the TCP handshake completed, ``failure`` when it
  did not, so a SYN scan gives failed flows);
* one ``network_traffic.dns`` event per DNS message (UDP port 53);
* one ``network_traffic.http`` / ``network_traffic.rtsp`` event per request, with its
  response when seen, and one ``network_traffic.modbus`` event per Modbus request.

RTP/RTCP media (UDP on ports negotiated by RTSP ``SETUP``, or looking like RTP version 2
between unprivileged ports) is skipped and counted as ``rtp-media`` unless
``include_media`` is set. Malformed packets are counted per reason and skipped; a file cut
short yields every complete packet and one ``truncated-pcap`` error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import Location
from collectors.flows import IDLE_TIMEOUT, LINGER, Endpoint, Flow, FlowKey, flow_key
from collectors.packet import SYN, Datagram, MalformedPacketError, SkippedPacketError, decode
from collectors.pcapfile import Record, iter_records
from collectors.protocols import AppRecord, TextSession, dns_fields
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
logging.getLogger("scapy.loading").setLevel(logging.ERROR)

RTP_PAYLOAD_TYPES = frozenset(range(35)) | frozenset(range(96, 128))
RTCP_TYPES = frozenset(range(200, 207))
SWEEP_EVERY = 1.0


def looks_like_rtp(d: Datagram) -> bool:
    """RTP or RTCP version 2 between unprivileged ports (a heuristic, as Wireshark's)."""
    if d.transport != "udp" or d.sport < 1024 or d.dport < 1024 or len(d.payload) < 8:
        return False
    if d.payload[0] >> 6 != 2:
        return False
    if d.payload[1] in RTCP_TYPES:
        return True
    return len(d.payload) >= 12 and d.payload[1] & 0x7F in RTP_PAYLOAD_TYPES


class PcapReader:
    """The state of one read: open flows, learned media endpoints, the clock."""

    def __init__(self, path: Path, stats: CollectorStats, include_media: bool) -> None:
        self.path = path
        self.stats = stats
        self.include_media = include_media
        self.flows: dict[FlowKey, Flow] = {}
        self.media: set[Endpoint] = set()
        self.last_sweep = 0.0

    def events(self, records: Iterator[Record]) -> Iterator[Event]:
        for record in records:
            self.stats.received += 1
            yield from self._record(record)
        for flow in list(self.flows.values()):
            yield from self._close(flow)
        self.flows.clear()

    def _record(self, record: Record) -> Iterator[Event]:
        where = Location(str(self.path), record=record.number, offset=record.offset)
        try:
            d = decode(record.linktype, record.data)
        except MalformedPacketError as exc:
            self.stats.error(exc.reason, where, str(exc))
            return
        except SkippedPacketError as exc:
            self.stats.skip(exc.reason)
            return
        self.stats.parsed += 1
        when = record.epoch
        if when - self.last_sweep >= SWEEP_EVERY:
            yield from self._sweep(when)
        if not self.include_media and self._is_media(d):
            self.stats.skip("rtp-media")
            return
        yield from self._packet(d, when, record.wirelen, where)

    def _is_media(self, d: Datagram) -> bool:
        learned = (d.dst, d.dport) in self.media or (d.src, d.sport) in self.media
        return d.transport == "udp" and (learned or looks_like_rtp(d))

    def _packet(self, d: Datagram, when: float, wirelen: int, where: Location) -> Iterator[Event]:
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
            elif d.transport == "udp" and looks_like_rtp(d):
                flow.protocol = "rtp"
        records = flow.add(d, when, wirelen)
        for record in records:
            yield self._emit(flow.app_event(record))
        if records and isinstance(flow.session, TextSession):
            self._learn_media(flow, flow.session)
        if flow.protocol == "dns" and d.payload:
            yield from self._dns(flow, d, when, where)

    def _dns(self, flow: Flow, d: Datagram, when: float, where: Location) -> Iterator[Event]:
        try:
            fields = dns_fields(d.payload)
        except ValueError as exc:
            self.stats.error("undecodable-dns", where, str(exc))
            return
        event = flow.base()
        event.update(fields)
        event["@timestamp"] = ecs.timestamp(when)
        event["event.dataset"] = "network_traffic.dns"
        event["event.id"] = ecs.event_id(
            "network_traffic.dns",
            flow.community_id,
            f"{when:.6f}",
            fields["dns.id"],
            fields["dns.type"],
        )
        yield self._emit(event)

    def _learn_media(self, flow: Flow, session: TextSession) -> None:
        for side, port in session.media_ports:
            self.media.add((flow.client[0] if side == "client_port" else flow.server[0], port))

    def _sweep(self, now: float) -> Iterator[Event]:
        self.last_sweep = now
        for flow in list(self.flows.values()):
            lingered = flow.closed_at is not None and now - flow.closed_at > LINGER
            if lingered or now - flow.end > IDLE_TIMEOUT[flow.transport]:
                yield from self._close(flow)

    def _close(self, flow: Flow) -> Iterator[Event]:
        if self.flows.get(flow.key) is flow:
            del self.flows[flow.key]
        records: list[AppRecord] = flow.finish()
        for record in records:
            yield self._emit(flow.app_event(record))
        yield self._emit(flow.flow_event())

    def _emit(self, event: Event) -> Event:
        self.stats.events += 1
        return event


def read_pcap(path: Path, stats: CollectorStats, *, include_media: bool = False) -> Iterator[Event]:
    """Events of a capture file; raises ``CollectorError`` at once if it cannot be read."""
    records = iter_records(path, stats)
    return PcapReader(path, stats, include_media).events(records)
