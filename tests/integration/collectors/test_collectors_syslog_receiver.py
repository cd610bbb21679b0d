"""The syslog receiver on real UDP and TCP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from citysoc.core.ecs import Event
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.shipper import Shipper
from collectors.sources.receiver import Endpoint, SyslogReceiver
from collectors.stats import CollectorStats
from eventstore.base import WriteResult

SSH_FAIL = (
    b"<38>Nov 20 02:10:01 dc-app-01 sshd[812]: "
    b"Failed password for root from 203.0.113.9 port 50022 ssh2"
)
RFC5424 = (
    b"<165>1 2026-11-20T02:10:02.000Z nvr-d1-01 DahuaNVR - - - "
    b"Login failed: User[admin] IP[203.0.113.50] Reason[bad password]"
)


class ListSink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.events += events
        return WriteResult(len(events), 0, 0)


class Running:
    def __init__(self, receiver: SyslogReceiver, sink: ListSink, stats: CollectorStats) -> None:
        self.receiver, self.sink, self.stats = receiver, sink, stats

    def port(self, transport: str) -> int:
        return next(e.port for e in self.receiver.bound if e.transport == transport)

    def wait_for(self, count: int) -> list[Event]:
        deadline = time.monotonic() + 10
        while len(self.sink.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sink.events


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    sink, stats, stop = ListSink(), CollectorStats(), threading.Event()
    buffer = DiskBuffer(tmp_path / "buffer")
    shipper = Shipper(enrich=lambda e: e, sink=sink, buffer=buffer, stats=stats)
    receiver = SyslogReceiver(
        shipper, stats, known_host=lambda name: name == "dc-app-01", max_message=2048
    )
    endpoints = [Endpoint("udp", "127.0.0.1", 0), Endpoint("tcp", "127.0.0.1", 0)]
    thread = threading.Thread(
        target=asyncio.run, args=(receiver.run(endpoints, stop),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 5
    while len(receiver.bound) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    yield Running(receiver, sink, stats)
    stop.set()
    thread.join(10)
    buffer.close()


def by_dataset(events: list[Event]) -> dict[str, Any]:
    return {e["event.dataset"]: e for e in events}


def test_udp_messages_with_their_sender(running: Running) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for message in (SSH_FAIL, RFC5424, b"a line in no known format"):
            udp.sendto(message, ("127.0.0.1", running.port("udp")))
    events = by_dataset(running.wait_for(3))
    ssh = events["system.auth"]
    assert (ssh["event.outcome"], ssh["user.name"], ssh["source.ip"]) == (
        "failure",
        "root",
        "203.0.113.9",
    )
    assert ssh["log.source.address"].startswith("127.0.0.1:")
    assert "host.ip" not in ssh  # its host name is a known host: a better place than the sender
    dahua = events["cctv.dahua"]
    assert (dahua["log.syslog.version"], dahua["host.ip"]) == ("1", "127.0.0.1")
    raw = events["syslog.generic"]
    assert (raw["event.original"], raw["host.ip"]) == ("a line in no known format", "127.0.0.1")


def test_tcp_octet_counted_and_newline_framing_and_oversize(running: Running) -> None:
    big = b"<13>Nov 20 02:10:03 cam-d1-015 app: " + b"X" * 5000
    stream = (
        b"%d %s" % (len(RFC5424), RFC5424)
        + SSH_FAIL
        + b"\n"
        + big
        + b"\n<13>Nov 20 02:10:04 cam-d1-015 app: after the big one\n"
    )
    with socket.create_connection(("127.0.0.1", running.port("tcp"))) as tcp:
        for start in range(0, len(stream), 700):  # split across segments
            tcp.sendall(stream[start : start + 700])
    events = running.wait_for(4)
    assert [e["event.dataset"] for e in events[:2]] == ["cctv.dahua", "system.auth"]
    assert len(events[2]["event.original"]) == 2048
    assert events[3]["message"] == "after the big one"
    assert running.stats.errors["syslog-oversized"] == 1
    assert len({e["event.id"] for e in events}) == 4
