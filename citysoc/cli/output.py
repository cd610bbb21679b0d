"""The CLI's output layer: the only place that prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

STDERR = Console(stderr=True, highlight=False, soft_wrap=True)


def say(text: str = "") -> None:
    print(text, flush=True)


def fail(text: str) -> None:
    print(f"citysoc: {text}", file=sys.stderr, flush=True)


def note(text: str) -> None:
    """A line for people on stderr (rich markup allowed), keeping stdout for scripts."""
    STDERR.print(text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    say("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    say("  ".join("-" * w for w in widths))
    for row in cells:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


class ByteProgress:
    """A progress bar by bytes read, on stderr, for files of at least ``from_bytes`` when
    stderr is a terminal; otherwise nothing."""

    def __init__(self, path: Path, from_bytes: int) -> None:
        size = path.stat().st_size
        self.bar: Progress | None = None
        if STDERR.is_terminal and size >= from_bytes:
            columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
            self.bar = Progress(*columns, console=STDERR, transient=True)
            self.task = self.bar.add_task(path.name, total=size)

    def __enter__(self) -> ByteProgress | None:
        if self.bar is None:
            return None
        self.bar.start()
        return self

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
