"""What proving a rule on its evidence yields, whatever the kind of rule."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

Folder = TypeVar("Folder")


@dataclass(frozen=True)
class SampleResult:
    sample: Path
    expected: bool
    fired: bool

    @property
    def ok(self) -> bool:
        return self.expected == self.fired


@dataclass(frozen=True)
class Proof(Generic[Folder]):
    """A rule must fire on every ``match/`` sample and stay quiet on every ``nomatch/`` one."""

    folder: Folder
    samples: tuple[SampleResult, ...]
    seconds: float

    @property
    def fires_on_all_matches(self) -> bool:
        return all(s.fired for s in self.samples if s.expected)

    @property
    def quiet_on_all_nomatches(self) -> bool:
        return not any(s.fired for s in self.samples if not s.expected)

    @property
    def ok(self) -> bool:
        return self.fires_on_all_matches and self.quiet_on_all_nomatches


def prove_samples(
    folder: Folder,
    match: Iterable[Path],
    nomatch: Iterable[Path],
    fires: Callable[[Path], bool],
) -> Proof[Folder]:
    """Run ``fires`` on every sample and record whether each behaved as expected."""
    started = time.perf_counter()
    results = [
        SampleResult(sample, expected, fires(sample))
        for expected, samples in ((True, match), (False, nomatch))
        for sample in samples
    ]
    return Proof(folder, tuple(results), time.perf_counter() - started)
