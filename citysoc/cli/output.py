"""The CLI's output layer: the only place that prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def say(text: str = "") -> None:
    print(text, flush=True)


def fail(text: str) -> None:
    print(f"citysoc: {text}", file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    say("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    say("  ".join("-" * w for w in widths))
    for row in cells:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
