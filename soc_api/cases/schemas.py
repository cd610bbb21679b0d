"""The shapes cases take across the API boundary."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soc_api.alerts.models import AlertPublic, CloseReason, Severity
from soc_api.cases.models import CaseStatus

AlertId = Annotated[int, Field(ge=1, le=2**53)]
Agency = Annotated[str, Field(min_length=1, max_length=32)]


class CaseOpen(BaseModel):
    """Open a case from an incident (all its alerts), or from alerts named one by one."""

    model_config = ConfigDict(extra="forbid")

    incident_id: AlertId | None = None
    alert_ids: list[AlertId] = Field(default=[], max_length=500)
    title: str | None = Field(default=None, min_length=1, max_length=256)
    severity: Severity | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_source(self) -> CaseOpen:
        if (self.incident_id is None) == (not self.alert_ids):
            raise ValueError("give either incident_id or alert_ids")
        return self


class CaseUpdate(BaseModel):
    """A change of the whole case: status (closing needs a reason), severity, owner, title."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = None
    close_reason: CloseReason | None = None
    severity: Severity | None = None
    owner: str | None = Field(default=None, max_length=64, description='"" takes the owner off')
    title: str | None = Field(default=None, min_length=1, max_length=256)


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=256)
    agency: Agency | None = Field(
        default=None, description="The agency's part it belongs to; empty: the city SOC's own."
    )


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: bool


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=4000)
    agency: Agency | None = Field(
        default=None, description="The agency's part it belongs to; empty: the city SOC's own."
    )


class CaseLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[AlertId] = Field(min_length=1, max_length=500)


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency: str | None
    title: str
    done: bool
    created_by: str
    created_at: str
    done_by: str | None
    done_at: str | None


class CommentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency: str | None
    author: str
    body: str
    created_at: str
    note_id: int | None


class CaseEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: str
    actor: str
    action: str
    agency: str | None
    detail: dict[str, Any]


class CasePublic(BaseModel):
    """A case as one caller may see it: other agencies' alerts, tasks, comments and timeline
    steps are counted, never shown."""

    id: int
    title: str
    status: CaseStatus
    severity: str
    owner: str | None
    close_reason: str | None
    opened_from: int | None
    created_by: str
    created_at: str
    updated_at: str
    agencies: list[str]
    other_agencies: int
    other_alerts: int
    other_tasks: int
    other_comments: int
    alerts: list[AlertPublic]
    tasks: list[TaskPublic]
    comments: list[CommentPublic]
    timeline: list[CaseEventPublic]
    allowed_transitions: list[CaseStatus]
    manageable: bool  # may the caller change its status, severity, owner and title


class CaseSummary(BaseModel):
    id: int
    title: str
    status: CaseStatus
    severity: str
    owner: str | None
    agencies: list[str]
    other_agencies: int
    alert_count: int
    open_tasks: int
    updated_at: str


class CasePage(BaseModel):
    total: int
    items: list[CaseSummary]
