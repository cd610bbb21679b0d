"""Between API workers and the scheduling process: wake-ups through a pipe, runs in a file."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc_api.schedule_link import ScheduleLink
from soc_api.scheduler import DetectionScheduler, SchedulerRun


def link(tmp_path: Path) -> ScheduleLink:
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    return ScheduleLink(tmp_path, reader, writer)


def run(events: int) -> SchedulerRun:
    return SchedulerRun(events, 2, 1, 0, 0.25, 0, datetime(2026, 12, 2, 8, 0, tzinfo=UTC))


def test_wake_ups_never_block_and_are_drained(tmp_path: Path) -> None:
    shared = link(tmp_path)
    assert shared.drain() == 0
    for _ in range(100_000):  # far more than a pipe holds: the writer must not block
        shared.wake()
    assert shared.drain() > 0
    assert shared.drain() == 0


def test_runs_published_are_read_back(tmp_path: Path) -> None:
    shared = link(tmp_path)
    assert shared.last_runs() == (None, None)
    shared.publish(run(0), run(7))
    assert shared.last_runs() == (run(0), run(7))
    shared.forget()
    assert shared.last_runs() == (None, None)
    (tmp_path / "detection-runs.json").write_text("{not json")
    assert shared.last_runs() == (None, None)  # logged, not raised


def test_a_worker_scheduler_wakes_and_reads_the_other_process(tmp_path: Path) -> None:
    shared = link(tmp_path)
    here = DetectionScheduler(
        store=None, runner=None, sessions=None,  # type: ignore[arg-type]
        suppression=None, interval=1.0,  # type: ignore[arg-type]
    )  # fmt: skip
    here.run_elsewhere(shared)
    with pytest.raises(RuntimeError):
        here.start()
    here.trigger()
    assert shared.drain() == 1
    shared.publish(run(3), run(3))
    assert here.last_run == run(3) and here.last_busy_run == run(3)
