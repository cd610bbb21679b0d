"""Syslog over the network: asyncio UDP and TCP listeners feeding a shipper.

Each datagram (UDP) or frame (TCP, octet-counted or newline framing, :mod:`framing`) is one
message for :func:`parse_syslog`. The sender is recorded as ``log.source.address``
(``ip:port``) and, when the message names no host the topology knows, as ``host.ip``.
Oversized frames are counted (``syslog-oversized``) and kept truncated.

Events go through a bounded queue to one worker that batches them into the shipper in a
thread, so a slow sink never stalls the event loop. When the queue is full, TCP readers
wait (the sender is slowed by TCP itself) and UDP datagrams are dropped and counted
(``udp-queue-full``): UDP has no way to push back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import ConfigError, Location
from collectors.delivery.shipper import Shipper
from collectors.sources.framing import MAX_MESSAGE, FrameDecoder
from collectors.sources.syslog import parse_syslog
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

QUEUE_SIZE = 20_000
BATCH = 1000
BATCH_SECONDS = 0.5
READ_CHUNK = 65536


@dataclass(frozen=True)
class Endpoint:
    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``udp://127.0.0.1:5514`` or ``tcp://[::1]:5514`` to an :class:`Endpoint`."""
    parts = urlsplit(text)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or parts.port is None:
        raise ConfigError(f"listen address {text!r} is not udp://HOST:PORT or tcp://HOST:PORT")
    return Endpoint(parts.scheme, parts.hostname, parts.port)


class SyslogReceiver:
    """Listens on the endpoints and ships every message it receives."""

    def __init__(
        self,
        shipper: Shipper,
        stats: CollectorStats,
        *,
        known_host: Callable[[str], bool] = lambda _name: False,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.shipper = shipper
        self.stats = stats
        self.known_host = known_host
        self.max_message = max_message
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self.bound: list[Endpoint] = []
        self._seq = 0

    async def run(self, endpoints: list[Endpoint], stop: threading.Event) -> None:
        """Serve until ``stop`` is set, then ship what is queued."""
        loop = asyncio.get_running_loop()
        closers: list[Callable[[], None]] = []
        for endpoint in endpoints:
            closers.append(await self._listen(loop, endpoint))
        worker = asyncio.create_task(self._ship_batches(stop))
        try:
            while not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            for close in closers:
                close()
            await worker

    async def _listen(
        self, loop: asyncio.AbstractEventLoop, endpoint: Endpoint
    ) -> Callable[[], None]:
        if endpoint.transport == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(endpoint.host, endpoint.port)
            )
            self._bound(endpoint, transport.get_extra_info("sockname"))
            return transport.close
        server = await asyncio.start_server(
            self._connection, endpoint.host, endpoint.port, limit=READ_CHUNK
        )
        self._bound(endpoint, server.sockets[0].getsockname())
        return server.close

    def _bound(self, endpoint: Endpoint, sockname: tuple[str, int]) -> None:
        bound = Endpoint(endpoint.transport, endpoint.host, int(sockname[1]))
        self.bound.append(bound)
        log.info("syslog listening on %s", bound)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("unknown", 0)
        decoder = FrameDecoder(self.max_message)
        try:
            while data := await reader.read(READ_CHUNK):
                for frame in decoder.feed(data):
                    await self.queue.put(self.message(frame.data, peer, "tcp", frame.truncated))
            for frame in decoder.finish():
                await self.queue.put(self.message(frame.data, peer, "tcp", frame.truncated))
        except ConnectionError as exc:
            log.info("syslog connection from %s:%s ended: %s", peer[0], peer[1], exc)
        finally:
            writer.close()

    def message(self, data: bytes, peer: tuple[str, int], transport: str, cut: bool) -> Event:
        """One received message to an event, with its sender recorded."""
        self._seq += 1
        received = time.time()
        where = Location(f"{transport}://{peer[0]}:{peer[1]}", record=self._seq)
        if cut:
            self.stats.error("syslog-oversized", where, f"kept the first {len(data)} bytes")
        event = parse_syslog(data, where, self.stats, received=received)
        event["event.id"] = ecs.event_id(
            "syslog-net", where, received, event["event.id"], at=received
        )
        event["log.source.address"] = f"{peer[0]}:{peer[1]}"
        hostname = event.get("host.hostname")
        if "host.ip" not in event and not (isinstance(hostname, str) and self.known_host(hostname)):
            event["host.ip"] = peer[0]
        return event

    async def _ship_batches(self, stop: threading.Event) -> None:
        while not (stop.is_set() and self.queue.empty()):
            batch = await self._next_batch()
            if batch:
                await asyncio.to_thread(self.shipper.put, batch)
            else:
                await asyncio.to_thread(self.shipper.tick)

    async def _next_batch(self) -> list[Event]:
        batch: list[Event] = []
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < BATCH:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), timeout))
            except TimeoutError:
                break
        return batch


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | bytes | int, ...]) -> None:
        peer = (str(addr[0]), int(addr[1]))
        event = self.receiver.message(data.rstrip(b"\r\n\0"), peer, "udp", cut=False)
        try:
            self.receiver.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.receiver.stats.drop("udp-queue-full", 1, f"from {peer[0]}:{peer[1]}")
