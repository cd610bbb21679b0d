"""Between the API worker processes and the one process that runs the detection schedule.

With ``citysoc serve --workers N`` (N > 1) the schedule runs in the supervising process, not
in the workers that answer requests. A worker still has to wake it (an ingest asks for a run
at once) and to show how its last runs went (``/health``, the alert queue). So:

- **waking**: a pipe made by the supervisor before it starts the workers; a worker writes a
  byte without blocking (a full pipe already holds a wake-up), and the supervisor, which
  waits on the pipe beside its workers, triggers the schedule for each read;
- **the last runs**: the scheduling process writes them after every run to
  ``<data dir>/detection-runs.json`` (a whole new file renamed over the old one, so a reader
  sees one or the other), and a worker reads that file when asked.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from soc_api.scheduler import SchedulerRun

log = logging.getLogger(__name__)

STATUS_FILE = "detection-runs.json"


def _run(data: Any) -> SchedulerRun | None:
    if not isinstance(data, dict):
        return None
    return SchedulerRun(**{**data, "at": datetime.fromisoformat(str(data["at"]))})


class ScheduleLink:
    """Made by the supervisor, handed to every worker it starts (pickled as it spawns)."""

    def __init__(self, data_dir: Path, wake_reader: Connection, wake_writer: Connection) -> None:
        self.path = data_dir / STATUS_FILE
        self.wake_reader = wake_reader
        self.wake_writer = wake_writer

    # the worker's side

    def wake(self) -> None:
        """Ask the scheduling process for a run now; never blocks a request."""
        fd = self.wake_writer.fileno()
        os.set_blocking(fd, False)
        try:
            os.write(fd, b"\x01")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups the scheduling process has yet to read
        except BrokenPipeError:
            log.warning("the detection schedule's process is gone: the run waits for a restart")

    def last_runs(self) -> tuple[SchedulerRun | None, SchedulerRun | None]:
        """The last run and the last run that had new events, as the scheduler last wrote."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return _run(data.get("last_run")), _run(data.get("last_busy_run"))
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("cannot read the detection runs in %s: %s", self.path, exc)
            return None, None

    # the scheduling process's side

    def drain(self) -> int:
        """Read every pending wake-up; how many there were."""
        count = 0
        while self.wake_reader.poll():
            count += len(os.read(self.wake_reader.fileno(), 4096))
        return count

    def publish(self, last: SchedulerRun | None, busy: SchedulerRun | None) -> None:
        """Write the last runs where the workers read them."""

        def shape(run: SchedulerRun | None) -> dict[str, Any] | None:
            return None if run is None else {**asdict(run), "at": run.at.isoformat()}

        body = json.dumps({"last_run": shape(last), "last_busy_run": shape(busy)})
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(body, encoding="utf-8")
        temporary.replace(self.path)

    def forget(self) -> None:
        """Remove the runs of an earlier start, so no worker shows them as this one's."""
        self.path.unlink(missing_ok=True)
