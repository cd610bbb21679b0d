"""Incident shapes. Incidents are derived from alerts on demand; analysts' notes are stored.

A note is anchored on one alert of the incident (the first the writer may see), so however
the alerts regroup, the note goes with its alert into whichever incident holds it: no
regrouping drops a note or an assignment, and an agency's note is seen only by those who
may see its alert.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc_api.alerts.models import AlertPublic
from soc_api.db import Base


class IncidentNote(Base):
    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(64), default=None)
    author: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[str] = mapped_column(String(32))


class IncidentNoteCreate(BaseModel):
    """A note on an incident, an assignment, or both."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=4000)
    assignee: str | None = Field(default=None, max_length=64)


class IncidentNotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    note: str
    assignee: str | None
    author: str
    created_at: str


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
    assignee: str | None = None  # the latest assignment among its notes
    notes: list[IncidentNotePublic] = []
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
