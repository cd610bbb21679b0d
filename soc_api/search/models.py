"""The shapes of event searches and pivot pages across the API boundary."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, Field

from soc_api.alerts.models import AlertPage
from soc_api.incidents.models import IncidentSummary

MAX_QUERY = 2000


class EntityKind(enum.StrEnum):
    """What a pivot page can be about."""

    IP = "ip"
    HOST = "host"
    USER = "user"
    DOMAIN = "domain"
    HASH = "hash"
    RULE = "rule"


class EventPagePublic(BaseModel):
    """One page of an event search, newest first, and how many events match in all."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class AgencySighting(BaseModel):
    """What one of the caller's agencies saw of an entity."""

    agency: str
    name: str
    events: int
    alerts: int
    first_seen: str | None
    last_seen: str | None


class OtherAgencies(BaseModel):
    """Agencies the caller may not read, as counts only (how many, their events and alerts)."""

    agencies: int
    events: int
    alerts: int


class PivotPublic(BaseModel):
    """Everything the caller may see about one entity."""

    kind: EntityKind
    value: str
    alert_query: str | None = Field(
        description="The query that finds its alerts (for /alerts?q=), when it fits one"
    )
    event_query: str | None = Field(
        description="The query that finds its events (for /events?q=); none for a rule, whose "
        "events are its alerts' evidence, or when it is too long for a query"
    )
    first_seen: str | None
    last_seen: str | None
    agencies: list[AgencySighting]
    other_agencies: OtherAgencies | None = Field(
        description="Set for agency analysts when other agencies saw it too"
    )
    events: EventPagePublic
    alerts: AlertPage
    incidents: list[IncidentSummary]
