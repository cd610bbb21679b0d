"""The overview's shapes across the API boundary."""

from __future__ import annotations

import enum
from datetime import timedelta

from pydantic import BaseModel, Field

SEVERITIES = ("critical", "high", "medium", "low", "informational")  # most severe first


class Period(enum.StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"
    QUARTER = "90d"
    ALL = "all"


SPANS: dict[Period, timedelta | None] = {
    Period.DAY: timedelta(hours=24),
    Period.WEEK: timedelta(days=7),
    Period.MONTH: timedelta(days=30),
    Period.QUARTER: timedelta(days=90),
    Period.ALL: None,  # from the first alert the caller may see to the last
}


class TimeBucket(BaseModel):
    start: str = Field(description="Start of the bucket (UTC), inclusive")
    end: str = Field(description="End of the bucket (UTC), exclusive")
    counts: dict[str, int] = Field(description="Alerts first seen in it, by severity")
    total: int


class AgencyCount(BaseModel):
    agency: str
    name: str
    count: int


class RuleCount(BaseModel):
    rule: str
    title: str
    severity: str = Field(description="The most severe of its alerts")
    count: int


class EntityCount(BaseModel):
    entity: str = Field(description="The acting entity, e.g. ip:203.0.113.7")
    count: int
    agencies: int = Field(description="How many of the caller's agencies it reached")


class SegmentState(BaseModel):
    """A segment of the topology and its open alerts. Another agency's segment, for an
    agency's analyst, keeps only its kind (``visible`` false, no name, no count)."""

    segment: str | None
    name: str | None
    kind: str = Field(description="Segment kind, or 'unplaced' for alerts outside the topology")
    agency: str | None
    visible: bool
    open_alerts: int | None
    worst_severity: str | None


class Overview(BaseModel):
    """What the caller may see of the city's alerts in a period, and open alerts now."""

    period: Period
    since: str | None = Field(description="Start (UTC); none when the caller has no alert")
    until: str = Field(description="End (UTC), exclusive")
    bucket_seconds: int = Field(description="Width of one time bucket")
    total: int = Field(description="Alerts first seen in the period")
    open_total: int = Field(description="Open alerts now, whenever first seen")
    latest: str | None = Field(description="When the caller's latest alert was first seen")
    timeline: list[TimeBucket]
    by_agency: list[AgencyCount]
    other_agencies: int | None = Field(
        description="For an agency's analyst: alerts of all other agencies in the period, as "
        "one total; none for city-wide callers"
    )
    top_rules: list[RuleCount]
    top_entities: list[EntityCount]
    segments: list[SegmentState]
    open_elsewhere: int | None = Field(
        description="For an agency's analyst: open alerts of other agencies, as one total"
    )
