"""Reporting periods: half-years, as Circular 31/2017's six-month report asks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from soc_api.compliance.frameworks import ComplianceError

PATTERN = re.compile(r"^(?P<year>20\d\d)-H(?P<half>[12])$")


@dataclass(frozen=True)
class Period:
    name: str
    start: datetime
    end: datetime  # exclusive

    @property
    def start_iso(self) -> str:
        return iso(self.start)

    @property
    def end_iso(self) -> str:
        return iso(self.end)

    def contains(self, stamp: str) -> bool:
        """Whether an ISO-8601 UTC timestamp falls in the period (bad stamps do not)."""
        moment = parse_time(stamp)
        return moment is not None and self.start <= moment < self.end


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_period(name: str) -> Period:
    """``2026-H2`` → 1 July 2026 to 1 January 2027 (UTC)."""
    found = PATTERN.match(name)
    if found is None:
        raise ComplianceError(
            f"unknown period {name!r}; periods are half-years: YYYY-H1 (January-June) or "
            "YYYY-H2 (July-December), e.g. 2026-H2"
        )
    year, half = int(found["year"]), int(found["half"])
    start = datetime(year, 1 if half == 1 else 7, 1, tzinfo=UTC)
    end = datetime(year, 7, 1, tzinfo=UTC) if half == 1 else datetime(year + 1, 1, 1, tzinfo=UTC)
    return Period(name, start, end)
