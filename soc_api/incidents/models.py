"""Incident shapes. Incidents are derived from alerts on demand, not stored."""

from __future__ import annotations

from pydantic import BaseModel

from soc_api.alerts.models import AlertPublic


class TimelineEntry(BaseModel):
    """One step, in kill-chain order (tactic, then time)."""

    at: str
    alert_id: int
    title: str
    agency: str
    severity: str
    tactic: str = ""
    attacker: str | None = None
    target_count: int = 0


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
    actor: str | None = None  # the attacker entity the incident is about
    links: list[str] = []  # what else ties its alerts: fingerprints, pivots through a host
    alerts: list[AlertPublic]
    timeline: list[TimelineEntry]


class IncidentSummary(BaseModel):
    id: int
    title: str
    actor: str | None = None
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


class TargetView(BaseModel):
    """One victim reached by several incidents (several actors): not a campaign."""

    target: str
    incidents: list[int]
    actors: list[str]
    agencies: list[str]


class TargetPage(BaseModel):
    total: int
    items: list[TargetView]
