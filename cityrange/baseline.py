"""The benign city on the wire: an hour of its ordinary conversations, replayed quickly.

``baseline.yml`` lists the conversations one hour of the example city holds (the VMS pulling
streams and managing cameras, SCADA polling the PLCs and signal controllers, citizens on the
portal over HTTPS, the portal and dashboards calling the LGSP bus, services querying the
warehouse, the bastion's SSH sessions, cameras' NTP and syslog), each with how many times it
happens in that hour. The range plays them all, on real sockets between the hosts' own
addresses, back to back in a few seconds instead of spread over the hour: time-window rules
thus see an hour's traffic squeezed into seconds, which is harsher than the real thing.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cityrange.library import Step
from citysoc.core.errors import Location, RangeError

BASELINE = Path(__file__).parent / "baseline.yml"


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str  # a named host, or an internet address
    target: str
    step: Step


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    simulated_hours: float = Field(gt=0)
    conversations: list[Conversation] = Field(min_length=1)

    def hosts(self) -> set[str]:
        return {c.actor for c in self.conversations} | {c.target for c in self.conversations}


def load_baseline(path: Path = BASELINE) -> Baseline:
    try:
        return Baseline.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise RangeError(f"the baseline is not valid: {exc}", location=Location(str(path))) from exc
