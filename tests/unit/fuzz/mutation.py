"""What both fuzz modules share: the time budget of one input and the byte-level mutator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    deadline=None,  # timed by within_budget: the minimum of three runs
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T = TypeVar("T")
BUDGET = 0.1  # seconds one input may take
REPEAT = 16 * 1024  # a quadratic step takes seconds at this size; linear work, milliseconds
ODD_BYTES = [b"\r\n", b"\r", b"\n", b"\x00", b"\\ud800", b'"', b"\xff\xfe", b"[" * 64, b"9" * 5000]


def within_budget(call: Callable[[], T]) -> T:
    """``call()``, failing if it takes over :data:`BUDGET` on each of three tries: a busy
    machine can slow one run down, never three in a row by the same much."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
        if best <= BUDGET:
            return result
    raise AssertionError(f"one input took {best * 1000:.0f} ms, over {BUDGET * 1000:.0f} ms")


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], repeat: int = REPEAT) -> bytes:
    """A seed with a few byte-level edits: flips, inserts, deletions, a slice repeated up to
    ``repeat`` bytes (work that grows faster than the input shows up over budget), odd bytes."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "special"]))
        if edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif edit == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 16))]) or b"A"
            data[at:at] = piece * draw(st.integers(2, repeat // len(piece)))
        else:
            data[at:at] = draw(st.sampled_from(ODD_BYTES))
    return bytes(data)
