"""Events the engine refused, kept with the reason instead of retried forever or dropped.

One NDJSON file a day in the dead-letter folder (``var/deadletter/`` by default): each line
holds when, the event's id, the data stream, the engine's reason and the whole event, so an
operator can fix the mapping and send the lines again (``citysoc collect`` reads them back
as ECS events with ``jq -c .event``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


class DeadLetters:
    """Appends refused events to ``folder/engine-YYYY-MM-DD.ndjson`` (fsynced)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    def path(self, at: float | None = None) -> Path:
        day = time.strftime("%Y-%m-%d", time.gmtime(at if at is not None else time.time()))
        return self.folder / f"engine-{day}.ndjson"

    def keep(self, refused: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Keep ``(data stream, reason, event)`` triples."""
        if not refused:
            return
        now = time.time()
        lines = b"".join(
            orjson.dumps(
                {
                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                    "event_id": str(event.get("event.id", "")),
                    "data_stream": stream,
                    "reason": reason,
                    "event": dict(event),
                },
                default=str,
            )
            + b"\n"
            for stream, reason, event in refused
        )
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path(now)
            with path.open("ab") as out:
                out.write(lines)
                out.flush()
                os.fsync(out.fileno())
            self.count += len(refused)
        log.warning("%d events refused by the engine kept in %s", len(refused), path)
