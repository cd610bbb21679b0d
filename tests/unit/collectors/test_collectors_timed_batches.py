"""A live source's events reach the store in batches that end on time, even when it goes quiet."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from citysoc.core.ecs import Event
from collectors.delivery.batches import TimedBatches


def _then_quiet(n: int, release: threading.Event) -> Iterator[Event]:
    """``n`` events at once, then nothing until ``release`` is set (a quiet segment)."""
    for i in range(n):
        yield {"event.id": str(i)}
    release.wait(10)
    yield {"event.id": "late"}


def test_a_batch_ends_on_time_when_the_source_goes_quiet() -> None:
    release = threading.Event()
    batches = TimedBatches(_then_quiet(4, release), max_events=500, seconds=0.3)
    started = time.monotonic()
    first = [e["event.id"] for e in batches.batch()]
    waited = time.monotonic() - started
    assert first == ["0", "1", "2", "3"]
    assert waited < 3, "the batch waited for traffic that never came"
    assert not batches.ended
    release.set()
    assert [e["event.id"] for e in batches.batch()] == ["late"]
    assert list(batches.batch()) == []
    assert batches.ended


def test_a_batch_ends_at_its_size() -> None:
    batches = TimedBatches(iter([{"event.id": str(i)} for i in range(5)]), max_events=2, seconds=60)
    sizes = []
    while not batches.ended:
        sizes.append(len(list(batches.batch())))
    assert sizes == [2, 2, 1]


def test_the_sources_error_is_raised_to_the_consumer() -> None:
    def broken() -> Iterator[Event]:
        yield {"event.id": "1"}
        raise RuntimeError("tshark went away")

    batches = TimedBatches(broken(), max_events=10, seconds=5)
    with pytest.raises(RuntimeError, match="tshark went away"):
        while not batches.ended:
            list(batches.batch())
