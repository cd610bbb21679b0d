"""Lay out the agencies of an incident around the entities they share, for an inline SVG."""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH, HEIGHT, RADIUS = 560, 320, 120


@dataclass(frozen=True)
class Node:
    label: str
    x: float
    y: float
    count: int
    anonymous: bool = False


def agency_graph(
    agencies: dict[str, int], others: int, other_alerts: int
) -> tuple[Node, list[Node]]:
    """The centre node (the shared entities) and one node per agency, on a circle.

    Agencies the viewer may not see become one anonymous node carrying only their count.
    """
    centre = Node("", WIDTH / 2, HEIGHT / 2, sum(agencies.values()) + other_alerts)
    labelled = [(name, count, False) for name, count in sorted(agencies.items())]
    if others:
        labelled.append((f"+{others}", other_alerts, True))
    nodes = []
    for index, (label, count, anonymous) in enumerate(labelled):
        angle = 2 * math.pi * index / max(1, len(labelled)) - math.pi / 2
        nodes.append(
            Node(
                label,
                round(WIDTH / 2 + RADIUS * 1.6 * math.cos(angle), 1),
                round(HEIGHT / 2 + RADIUS * math.sin(angle), 1),
                count,
                anonymous,
            )
        )
    return centre, nodes
