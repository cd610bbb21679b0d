"""The SOC's side of the range: the sensor's live capture and the collector's syslog listener.

Both are the collectors' own code: :class:`~collectors.sources.live.LiveCapture` (tshark in
the sensor's namespace, on the interface the switch mirrors every host's frames to) and
:class:`~collectors.sources.receiver.SyslogReceiver` (inside the collector's namespace, on its
topology addresses). Each writes to the event store through its own connection, as the
``citysoc collect iface`` and ``citysoc collect syslog --listen`` commands do.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import closing

from cityrange.netns import enter
from cityrange.plan import COLLECTOR_NS, SENSOR_IFACE, SENSOR_NS
from citysoc.core.ecs import Event
from citysoc.core.errors import Location, StoreError
from citysoc.core.settings import Settings
from citysoc.core.topology import Topology
from collectors.delivery.buffer import DiskBuffer
from collectors.delivery.shipper import Shipper
from collectors.delivery.sinks import sink_for
from collectors.enrich import Enricher
from collectors.pipeline import ship
from collectors.sources.live import LiveCapture, LiveOptions
from collectors.sources.receiver import Endpoint, SyslogReceiver
from collectors.stats import CollectorStats
from eventstore.open import open_event_store

log = logging.getLogger(__name__)

BATCH_EVENTS = 200
BATCH_SECONDS = 0.5
SYSLOG_PORT = 514
CAPTURE_MIB = 128  # bursts of a bulk transfer must fit while the engine catches up


class Sensor:
    """Live capture in the sensor's namespace, stored in small batches while it runs."""

    def __init__(self, settings: Settings, topology: Topology) -> None:
        self.settings, self.topology = settings, topology
        self.stats = CollectorStats()
        options = LiveOptions(interface=SENSOR_IFACE, netns=SENSOR_NS, buffer_mib=CAPTURE_MIB)
        self.capture = LiveCapture(options, self.stats)
        self.stored = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.capture.start()
        self._thread = threading.Thread(target=self._store, name="range-sensor", daemon=True)
        self._thread.start()

    def _store(self) -> None:
        enrich = Enricher(self.topology, self.settings.default_agency)
        events = self.capture.events()
        with closing(open_event_store(self.settings)) as store:
            sink = sink_for(store)
            while True:
                batch = _Slice(events)
                try:
                    report = ship(iter(batch), enrich=enrich, sink=sink, stats=self.stats)
                except StoreError as exc:  # counted and logged; the capture goes on
                    self.stats.error("store-write", Location(self.capture.name), str(exc))
                    continue
                self.stored += report.stored
                if batch.ended:
                    return

    def stop(self, timeout: float = 30.0) -> None:
        """tshark flushes, open flows are reported and stored; returns once they are."""
        if self.capture.process is None:
            return  # never started
        self.capture.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.capture.process.poll() is None:  # did not flush in time: end it
            self.capture.process.kill()
            self.capture.process.wait(5)


class _Slice:
    def __init__(self, events: Iterator[Event]) -> None:
        self.events, self.ended = events, False

    def __iter__(self) -> Iterator[Event]:
        deadline = time.monotonic() + BATCH_SECONDS
        for n, event in enumerate(self.events, start=1):
            yield event
            if n >= BATCH_EVENTS or time.monotonic() >= deadline:
                return
        self.ended = True


class Collector:
    """A syslog listener on the collectors' addresses, inside the collector's namespace."""

    def __init__(self, settings: Settings, topology: Topology, addresses: list[str]) -> None:
        self.settings, self.topology, self.addresses = settings, topology, addresses
        self.stats = CollectorStats()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="range-collector", daemon=True)
        self._thread.start()
        if not self.ready.wait(10):
            raise TimeoutError("the range's syslog collector did not start")

    def _serve(self) -> None:
        enter(COLLECTOR_NS)
        enrich = Enricher(self.topology, self.settings.default_agency)
        folder = self.settings.data_dir / "buffer" / "range-syslog"
        folder.mkdir(parents=True, exist_ok=True)
        with closing(open_event_store(self.settings)) as store, DiskBuffer(folder) as buffer:
            shipper = Shipper(enrich=enrich, sink=sink_for(store), buffer=buffer, stats=self.stats)
            receiver = SyslogReceiver(
                shipper, self.stats,
                known_host=lambda name: self.topology.host_address(name) is not None,
            )  # fmt: skip
            endpoints = [Endpoint("udp", a, SYSLOG_PORT) for a in self.addresses]

            async def main() -> None:
                task = asyncio.create_task(receiver.run(endpoints, self._stop))
                while len(receiver.bound) < len(endpoints) and not task.done():
                    await asyncio.sleep(0.05)
                self.ready.set()
                await task

            try:
                asyncio.run(main())
            finally:
                self.ready.set()
                shipper.flush(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
