"""The scenario library: attacks as data (``cityrange/library/*.yml``), loaded and checked.

A scenario names its ATT&CK technique, where the attacker sits (``internet`` or a segment of
the topology: a compromised host there), its victim (a named host or an address inside the
city), the rules expected to raise an alert, whether it is critical, the time window within
which detection counts, and the steps the attacker takes (:mod:`cityrange.actions`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cityrange.actions import ACTIONS
from citysoc.core.errors import Location, RangeError
from citysoc.core.topology import INTERNET, Topology

LIBRARY = Path(__file__).parent / "library"
TCP_ACTIONS = {"http", "rtsp", "telnet", "ssh", "modbus", "dnp3", "stream", "tls"}
DEFAULT_PORTS = {
    "http": 80, "rtsp": 554, "telnet": 23, "ssh": 22, "modbus": 502, "dnp3": 20000,
    "stream": 445, "tls": 443,
}  # fmt: skip


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"unknown action {value!r} (known: {', '.join(sorted(ACTIONS))})")
        return value

    def tcp_ports(self) -> tuple[int, ...]:
        if self.action not in TCP_ACTIONS:
            return ()
        return (int(self.params.get("port", DEFAULT_PORTS[self.action])),)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]+$")
    title: str
    technique: str = Field(pattern=r"^T\d{4}(\.\d{3})?$")
    critical: bool = False
    attacker: str  # "internet" or a segment id
    victim: str  # a named host or an address inside the city: where the attack goes
    # whose system is harmed, when that is not the victim's address (the compromised host
    # that tunnels or mines, say); default: the victim's agency
    victim_agency: str | None = None
    expected_rules: list[str] = Field(min_length=1)
    window: float = Field(default=45.0, gt=0)
    steps: list[Step] = Field(min_length=1)

    def targets(self) -> set[str]:
        """Every host the steps reach (names or addresses), the victim first among them."""
        found = {self.victim}
        for step in self.steps:
            found.update(str(t) for t in step.params.get("targets", ()))
        return found


def load_library(directory: Path = LIBRARY) -> list[Scenario]:
    """Every scenario of every ``*.yml`` file, ids unique; errors name the file."""
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yml")):
        try:
            items = yaml.safe_load(path.read_text()) or []
        except yaml.YAMLError as exc:
            raise RangeError(
                f"scenario file is not YAML: {exc}", location=Location(str(path))
            ) from exc
        if not isinstance(items, list):
            raise RangeError("a scenario file is a list of scenarios", location=Location(str(path)))
        for n, item in enumerate(items):
            try:
                scenario = Scenario.model_validate(item)
            except ValidationError as exc:
                where = Location(str(path), record=n + 1)
                raise RangeError(f"scenario {n + 1} is not valid: {exc}", location=where) from exc
            if scenario.id in seen:
                raise RangeError(
                    f"scenario {scenario.id} is also in {seen[scenario.id]}",
                    location=Location(str(path)),
                )
            seen[scenario.id] = path
            scenarios.append(scenario)
    return scenarios


def resolve(topology: Topology, host: str) -> str:
    """A named host's address, or the address itself."""
    address = topology.host_address(host)
    if address is not None:
        return address
    try:
        return str(ipaddress.ip_address(host))
    except ValueError as exc:
        raise RangeError(f"{host!r} is neither a host of the topology nor an address") from exc


def check_against(topology: Topology, scenarios: list[Scenario], rules: set[str]) -> None:
    """Attackers sit in known places, victims inside the city, expected rules exist."""
    for scenario in scenarios:
        if scenario.attacker != INTERNET and scenario.attacker not in topology.segments:
            raise RangeError(f"{scenario.id}: attacker segment {scenario.attacker!r} is unknown")
        for target in scenario.targets():
            if topology.locate(resolve(topology, target)) is None:
                raise RangeError(f"{scenario.id}: {target} is not inside the city")
        unknown = sorted(set(scenario.expected_rules) - rules)
        if unknown:
            raise RangeError(f"{scenario.id}: no rule named {', '.join(unknown)}")
