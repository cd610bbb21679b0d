"""Drive a followed file through a parser into a shipper, committing offsets safely.

The tailer's position is committed only after the lines before it are durable in the disk
buffer (:meth:`Shipper.put` returns after an fsync), so a kill -9 at any moment re-reads at
most the last uncommitted batch, whose events the sink then recognises by their ids.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from citysoc.core.ecs import Event
from collectors.shipper import Shipper
from collectors.tail import FileTailer, Line

LineParser = Callable[[Line], Event | None]


def follow_into(
    tailer: FileTailer,
    parse: LineParser,
    shipper: Shipper,
    stop: threading.Event,
    *,
    batch_size: int = 2000,
) -> None:
    """Parse every line the tailer gives until ``stop`` is set; ship in batches."""
    batch: list[Event] = []
    end: int | None = None
    for line in tailer.follow(stop):
        if line is not None:
            event = parse(line)
            if event is not None:
                batch.append(event)
            end = line.end
            if len(batch) < batch_size:
                continue
        if end is not None:
            shipper.put(batch)
            tailer.commit(end)
            batch, end = [], None
        else:
            shipper.tick()
