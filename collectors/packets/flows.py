"""Bidirectional TCP/UDP conversations and the events they give.

A flow is keyed by its unordered 5-tuple. The initiator (``source.*``) is the sender of the
first SYN, or the receiver of a SYN-ACK, or failing those the side not using a well-known
port. A TCP flow ends on RST, on FIN from both sides (after a short linger for the last
ACK), when a new SYN reuses its tuple, after an idle timeout, or at the end of the input.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import socket
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from citysoc.core import ecs
from citysoc.core.ecs import Event
from collectors.packets.dnp3 import Dnp3Session
from collectors.packets.logins import TelnetSession
from collectors.packets.modbus import ModbusSession
from collectors.packets.packet import ACK, FIN, RST, SYN, Datagram
from collectors.packets.protocols import AppRecord, Session, TextSession
from collectors.packets.rdp import RdpSession
from collectors.packets.smb import SmbSession
from collectors.packets.ssh import SshSession
from collectors.packets.tcpstream import Stream
from collectors.packets.tls import TlsSession

log = logging.getLogger(__name__)

PORT_PROTOCOLS = {
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "dns",
    67: "dhcp",
    80: "http",
    102: "s7comm",
    123: "ntp",
    139: "smb",
    161: "snmp",
    443: "tls",
    445: "smb",
    502: "modbus",
    514: "syslog",
    554: "rtsp",
    1883: "mqtt",
    3702: "ws-discovery",
    3389: "rdp",
    5432: "postgresql",
    8000: "http",
    8080: "http",
    8443: "tls",
    8554: "rtsp",
    20000: "dnp3",
    37777: "dahua-dvrip",
    47808: "bacnet",
}
SESSIONS: dict[
    str,
    type[
        TextSession
        | ModbusSession
        | Dnp3Session
        | SshSession
        | TelnetSession
        | TlsSession
        | SmbSession
        | RdpSession
    ],
] = {
    "http": TextSession,
    "rtsp": TextSession,
    "modbus": ModbusSession,
    "dnp3": Dnp3Session,
    "ssh": SshSession,
    "telnet": TelnetSession,
    "tls": TlsSession,
    "smb": SmbSession,
    "rdp": RdpSession,
}
DNP3_START = b"\x05\x64"  # the start bytes of every DNP3 link-layer frame
LINGER = 2.0
# A TCP connection attempt nothing answered (a firewall dropped it, or a scan) is reported
# after 20 s, not after the 300 s of an idle connection: a client still retrying its SYN past
# that is then reported again, as a new attempt.
IDLE_TIMEOUT = {"tcp": 300.0, "udp": 60.0, "unanswered": 20.0}
IP_PROTOCOLS = {"tcp": 6, "udp": 17}
Endpoint = tuple[str, int]
FlowKey = tuple[str, Endpoint, Endpoint]


def community_id(transport: str, client: Endpoint, server: Endpoint) -> str:
    """Community ID v1 (seed 0) of a TCP or UDP flow, as Zeek, Suricata and Elastic compute it.

    The same digest as the ``communityid`` package, without its per-call object building
    and logging (a test checks that both agree).
    """
    family = socket.AF_INET6 if ":" in client[0] else socket.AF_INET
    a, b = socket.inet_pton(family, client[0]), socket.inet_pton(family, server[0])
    a_port, b_port = client[1], server[1]
    if (a, a_port) > (b, b_port):
        a, b, a_port, b_port = b, a, b_port, a_port
    data = (
        b"\0\0" + a + b + bytes((IP_PROTOCOLS[transport], 0)) + struct.pack("!HH", a_port, b_port)
    )
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324


@lru_cache(maxsize=4096)
def _whole_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def packet_timestamp(epoch: float) -> str:
    """``ecs.timestamp`` for the many events of one capture second, formatted once per second.

    Rounds to the microsecond as ``datetime.fromtimestamp`` does (half to even), then keeps
    milliseconds; a test checks both agree.
    """
    fraction, whole = math.modf(epoch)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    return f"{_whole_second(int(whole))}{micros // 1000:03d}Z"


def flow_key(d: Datagram) -> FlowKey:
    a, b = (d.src, d.sport), (d.dst, d.dport)
    return (d.transport, a, b) if a <= b else (d.transport, b, a)


def _initiator(d: Datagram) -> tuple[Endpoint, Endpoint]:
    here, there = (d.src, d.sport), (d.dst, d.dport)
    if d.transport == "tcp" and d.flags & SYN:
        return (there, here) if d.flags & ACK else (here, there)
    if d.sport in PORT_PROTOCOLS and d.dport not in PORT_PROTOCOLS:
        return there, here
    if d.dport not in PORT_PROTOCOLS and d.sport < 1024 <= d.dport:
        return there, here
    return here, there


@dataclass
class Flow:
    transport: str
    client: Endpoint
    server: Endpoint
    start: float
    ip_version: int
    protocol: str | None
    end: float = 0.0
    packets: list[int] = field(default_factory=lambda: [0, 0])  # client->server, reverse
    octets: list[int] = field(default_factory=lambda: [0, 0])
    syn: bool = False
    synack: bool = False
    established: bool = False
    fins: list[bool] = field(default_factory=lambda: [False, False])
    closed_at: float | None = None
    streams: tuple[Stream, Stream] = field(default_factory=lambda: (Stream(), Stream()))
    session: Session | None = None
    records: int = 0
    community_id: str = ""
    sniffed: bool = False
    closer: int | None = None  # the side that sent the first FIN or RST

    @property
    def key(self) -> FlowKey:
        a, b = sorted((self.client, self.server))
        return (self.transport, a, b)

    @classmethod
    def open(cls, d: Datagram, when: float) -> Flow:
        client, server = _initiator(d)
        flow = cls(d.transport, client, server, when, d.ip_version, PORT_PROTOCOLS.get(server[1]))
        flow.community_id = community_id(d.transport, client, server)
        if d.transport == "tcp" and flow.protocol in SESSIONS:
            flow.session = SESSIONS[flow.protocol]()
        return flow

    def _sniff(self, payload: bytes) -> None:
        """Name the protocol of a TCP flow on an unusual port from its first bytes."""
        self.sniffed = True
        if self.protocol is not None:
            return
        if payload.startswith(b"SSH-"):
            self.protocol, self.session = "ssh", SshSession()
        elif payload.startswith(DNP3_START) and len(payload) >= 10:
            self.protocol, self.session = "dnp3", Dnp3Session()
        elif payload[:2] == b"\x16\x03" and len(payload) >= 6 and payload[5] == 1:
            self.protocol, self.session = "tls", TlsSession()  # a ClientHello record
        elif payload[:1] == b"\x00" and payload[4:8] in (b"\xfeSMB", b"\xffSMB"):
            self.protocol, self.session = "smb", SmbSession()  # NetBIOS framing, SMB header
        elif payload[:2] == b"\x03\x00" and len(payload) >= 6 and payload[5] & 0xF0 == 0xE0:
            self.protocol, self.session = "rdp", RdpSession()  # TPKT, X.224 Connection Request

    def add(self, d: Datagram, when: float, wirelen: int) -> list[AppRecord]:
        """Count a packet; returns application records it completed."""
        forward = (d.src, d.sport) == self.client
        side = 0 if forward else 1
        self.packets[side] += 1
        self.octets[side] += wirelen
        self.end = max(self.end, when)
        if d.transport != "tcp":
            return []
        return self._tcp(d, side, when)

    def _tcp(self, d: Datagram, side: int, when: float) -> list[AppRecord]:
        if d.flags & SYN:
            self.streams[side].start(d.seq)
            if d.flags & ACK:
                self.synack = True
            else:
                self.syn = True
        elif d.flags & ACK and side == 0 and self.syn and self.synack:
            self.established = True
        if d.flags & (FIN | RST) and self.closer is None:
            self.closer = side
        if d.flags & RST:
            self.closed_at = when
        if d.flags & FIN:
            self.fins[side] = True
            if all(self.fins):
                self.closed_at = when
        if not d.payload:
            return []
        if not self.syn and not self.synack:
            self.established = True  # mid-stream capture: data flowing both ways is enough
        if not self.sniffed:
            self._sniff(d.payload)
        data = self.streams[side].feed(d.seq, d.payload)
        if not data or self.session is None:
            return []
        if side == 0:
            return self.session.client_data(data, when)
        return self.session.server_data(data, when)

    def finish(self) -> list[AppRecord]:
        if isinstance(self.session, SshSession):
            self.session.ended(self.closer, self.end)
        return self.session.finish() if self.session is not None else []

    def base(self) -> Event:
        """Fields every event of this flow shares."""
        fields: Event = {
            "ecs.version": ecs.ECS_VERSION,
            "event.module": "network_traffic",
            "event.kind": "event",
            "source.ip": self.client[0],
            "source.port": self.client[1],
            "destination.ip": self.server[0],
            "destination.port": self.server[1],
            "network.transport": self.transport,
            "network.type": f"ipv{self.ip_version}",
            "network.community_id": self.community_id,
        }
        if self.protocol:
            fields["network.protocol"] = self.protocol
        return fields

    def app_event(self, record: AppRecord) -> Event:
        self.records += 1
        event = self.base()
        event.update(record.fields)
        event["@timestamp"] = packet_timestamp(record.when)
        event["event.dataset"] = record.dataset
        event["event.id"] = ecs.event_id(
            record.dataset, self.community_id, f"{self.start:.6f}", self.records, at=record.when
        )
        return event

    def flow_event(self) -> Event:
        event = self.base()
        started = packet_timestamp(self.start)
        outcome = self.established if self.transport == "tcp" else self.packets[1] > 0
        if self.transport == "udp" and not outcome:
            result = "unknown"
        else:
            result = "success" if outcome else "failure"
        event.update(
            {
                "@timestamp": started,
                "event.id": ecs.event_id(
                    "network_traffic.flow", self.community_id, f"{self.start:.6f}", at=self.start
                ),
                "event.category": "network",
                "event.type": "connection",
                "event.action": "network_flow",
                "event.dataset": "network_traffic.flow",
                "event.outcome": result,
                "event.start": started,
                "event.end": packet_timestamp(self.end),
                "event.duration": round((self.end - self.start) * 1e9),
                "source.packets": self.packets[0],
                "source.bytes": self.octets[0],
                "destination.packets": self.packets[1],
                "destination.bytes": self.octets[1],
                "network.packets": sum(self.packets),
                "network.bytes": sum(self.octets),
            }
        )
        return event
