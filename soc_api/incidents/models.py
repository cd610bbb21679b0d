"""Incident shapes. Incidents are derived from alerts on demand, not stored."""

from __future__ import annotations

from pydantic import BaseModel

from soc_api.alerts.models import AlertPublic


class TimelineEntry(BaseModel):
    at: str
    alert_id: int
    title: str
    agency: str
    severity: str


class IncidentPublic(BaseModel):
    """An incident as one caller may see it.

    ``agencies`` lists only the agencies the caller may see; the others are counted in
    ``other_agencies`` (and their alerts in ``other_alerts``), never named.
    """

    id: int
    title: str
    campaign: bool
    severity: str
    first_seen: str
    last_seen: str
    agencies: list[str]
    other_agencies: int
    other_alerts: int
    shared_observables: list[str]
    alerts: list[AlertPublic]
    timeline: list[TimelineEntry]


class IncidentSummary(BaseModel):
    id: int
    title: str
    campaign: bool
    severity: str
    first_seen: str
    last_seen: str
    agencies: list[str]
    other_agencies: int
    alert_count: int


class IncidentPage(BaseModel):
    total: int
    items: list[IncidentSummary]
