"""Counters every collector keeps: what came in, what was parsed, what went wrong and where."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from citysoc.core.errors import Location

log = logging.getLogger(__name__)


@dataclass
class CollectorStats:
    """Counts of one collector run; errors and skips are counted per reason.

    ``received`` counts raw records (packets, lines, messages), ``parsed`` the ones that
    were understood, ``events`` the ECS events produced (one record may give several).
    """

    received: int = 0
    parsed: int = 0
    events: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def error(self, reason: str, location: Location, detail: str) -> None:
        """Count a bad record and log a warning that says where it was found."""
        self.errors[reason] += 1
        log.warning("%s: %s (%s)", location, reason, detail)

    def skip(self, reason: str, count: int = 1) -> None:
        """Count records deliberately left out (for example RTP media packets)."""
        self.skipped[reason] += count

    def drop(self, reason: str, count: int, detail: str) -> None:
        """Count events lost on purpose (a full buffer's drop-oldest policy) and say so."""
        self.dropped[reason] += count
        log.warning("dropped %d events: %s (%s)", count, reason, detail)

    def absorb(self, other: CollectorStats) -> None:
        """Add the counts another process kept for this run (lines it parsed for us)."""
        self.received += other.received
        self.parsed += other.parsed
        self.events += other.events
        self.errors.update(other.errors)
        self.skipped.update(other.skipped)
        self.dropped.update(other.dropped)

    def summary(self) -> dict[str, object]:
        """A plain dict for reports and the CLI."""
        return {
            "received": self.received,
            "parsed": self.parsed,
            "events": self.events,
            "errors": dict(sorted(self.errors.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "error_count": sum(self.errors.values()),
            "skipped_count": sum(self.skipped.values()),
        }
