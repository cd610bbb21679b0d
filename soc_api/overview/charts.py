"""Geometry of the overview's SVG charts, computed here so the templates only draw.

Every mark carries the link to the alert queue filtered to what it counts. Sizes are in the
SVG's own units; the page scales each chart to its width (``viewBox``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from soc_api.overview.models import SEVERITIES, SegmentState, TimeBucket

PLOT_LEFT, PLOT_TOP, AXIS_ROOM = 40, 12, 32
BAR_WIDTH, BAR_ROW, BAR_LABEL_CHARS = 360, 44, 44
TILE_HEIGHT, TILE_GAP, GROUP_LABEL = 58, 8, 26


def queue_link(**params: str | None) -> str:
    """The alert queue filtered by ``params`` (empty ones left out)."""
    kept = {name: value for name, value in params.items() if value}
    return "/alerts" + (f"?{urlencode(kept)}" if kept else "")


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


@dataclass(frozen=True)
class StackPart:
    severity: str
    count: int
    y: float
    height: float
    href: str


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    start: str
    end: str
    total: int
    counts: dict[str, int]
    parts: tuple[StackPart, ...]
    label: str | None  # an x-axis label under some columns only
    href: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    columns: tuple[Column, ...]
    y_ticks: tuple[tuple[float, int], ...]  # (y, value)
    plot: tuple[int, int, int, int]  # left, top, right, bottom


def timeline_chart(
    buckets: Sequence[TimeBucket], bucket_seconds: int, *, width: int, height: int, labels: int
) -> Timeline:
    """Columns stacked by severity, most severe at the bottom; at most ``labels`` x labels."""
    top = nice_ceiling(max((b.total for b in buckets), default=0))
    right, bottom = width - 8, height - AXIS_ROOM
    plot_height = bottom - PLOT_TOP
    slot = (right - PLOT_LEFT) / max(1, len(buckets))
    every = max(1, math.ceil(len(buckets) / labels))
    fmt = "%H:%M" if bucket_seconds < 86400 else "%m-%d"
    columns = []
    for index, bucket in enumerate(buckets):
        parts, base = [], float(bottom)
        for severity in SEVERITIES:
            count = bucket.counts.get(severity, 0)
            if not count:
                continue
            size = count / top * plot_height
            base -= size
            href = queue_link(severity=severity, since=bucket.start, until=bucket.end)
            parts.append(StackPart(severity, count, round(base, 2), round(size, 2), href))
        start = datetime.fromisoformat(bucket.start.replace("Z", "+00:00"))
        columns.append(
            Column(
                x=round(PLOT_LEFT + index * slot + slot * 0.1, 2),
                width=round(max(1.0, slot * 0.8), 2),
                start=bucket.start,
                end=bucket.end,
                total=bucket.total,
                counts=bucket.counts,
                parts=tuple(parts),
                label=start.strftime(fmt) if index % every == 0 else None,
                href=queue_link(since=bucket.start, until=bucket.end),
            )
        )
    values = (0, top // 2, top) if top % 2 == 0 else (0, top)
    ticks = tuple((round(bottom - v / top * plot_height, 2), v) for v in values)
    return Timeline(width, height, tuple(columns), ticks, (PLOT_LEFT, PLOT_TOP, right, bottom))


@dataclass(frozen=True)
class BarRow:
    label: str  # shortened to fit; ``full`` is the whole text
    full: str
    count: int
    y: float
    width: float
    href: str | None
    severity: str | None


def bar_rows(
    items: Sequence[tuple[str, int, str | None, str | None]],
) -> tuple[tuple[BarRow, ...], int]:
    """Horizontal bars, each under its label: (label, count, link, severity) in, rows and the
    chart's height out. Bars are scaled to the largest count."""
    top = max((count for _, count, _, _ in items), default=0) or 1
    room = BAR_WIDTH - 48  # the count is written after the bar
    rows = []
    for index, (label, count, href, severity) in enumerate(items):
        short = label if len(label) <= BAR_LABEL_CHARS else label[: BAR_LABEL_CHARS - 1] + "…"
        size = round(max(2.0, count / top * room), 2)
        rows.append(BarRow(short, label, count, index * BAR_ROW, size, href, severity))
    return tuple(rows), max(BAR_ROW, len(rows) * BAR_ROW)


@dataclass(frozen=True)
class Tile:
    x: float
    y: float
    width: float
    height: float
    state: SegmentState
    href: str | None


@dataclass(frozen=True)
class Block:
    kind: str
    x: float
    y: float
    width: float
    tiles: tuple[Tile, ...]


@dataclass(frozen=True)
class CityMap:
    width: int
    height: int
    blocks: tuple[Block, ...]


def city_map(segments: Sequence[SegmentState], *, columns: int, width: int) -> CityMap:
    """Segments as tiles, one block per kind (in the order given), ``columns`` blocks a row."""
    kinds: dict[str, list[SegmentState]] = {}
    for state in segments:
        kinds.setdefault(state.kind, []).append(state)
    block_width = width / columns
    blocks, row_top, row_height = [], 0.0, 0.0
    for index, (kind, states) in enumerate(kinds.items()):
        if index and index % columns == 0:
            row_top, row_height = row_top + row_height, 0.0
        x = (index % columns) * block_width
        tiles = []
        for n, state in enumerate(states):
            y = row_top + GROUP_LABEL + n * (TILE_HEIGHT + TILE_GAP)
            href = queue_link(segment=state.segment) if state.visible and state.segment else None
            tiles.append(Tile(round(x + 4, 2), round(y, 2), round(block_width - 8, 2), TILE_HEIGHT,
                              state, href))  # fmt: skip
        blocks.append(
            Block(kind, round(x + 4, 2), row_top, round(block_width - 8, 2), tuple(tiles))
        )
        row_height = max(row_height, GROUP_LABEL + len(states) * (TILE_HEIGHT + TILE_GAP) + 6)
    return CityMap(width, math.ceil(row_top + row_height), tuple(blocks))
