"""Run the Pulumi program offline, under Pulumi's own mocks: no CLI, no cloud.

Every registered resource is recorded with its parent and property dependencies, as the
engine would hand them to a policy pack, so the plan can run the policies too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pydantic import ValidationError

from citysoc.core.errors import ConfigError, Location
from citysoc.core.topology import load_topology
from infra.program import REPO, build_city, read_stack_config, topology_path
from infra.stackconfig import CONFIG_KEYS, StackConfig

log = logging.getLogger(__name__)
PROJECT = "citysoc"


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    id: str
    props: dict[str, Any]
    dependencies: dict[str, tuple[str, ...]]


@dataclass
class OfflinePlan:
    stack: str
    topology: Path = Path()
    resources: list[PlannedResource] = field(default_factory=list)
    inventory: dict[str, Any] = field(default_factory=dict)


class CityMocks(Mocks):
    """Ids named after resources; outputs echo inputs; the external network found by name."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        name = str(args.args.get("name", "network"))
        return {"id": f"{name}-network-id", "name": name}, []


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, remembering each registration's parent and dependencies."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[tuple[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registrations.append((response.urn, request))
        return response

    def planned(self) -> list[PlannedResource]:
        found = []
        for urn, request in self.registrations:
            if request.type == "pulumi:pulumi:Stack":
                continue
            state = self.resources.get(urn)
            deps = {k: tuple(v.urns) for k, v in request.propertyDependencies.items()}
            found.append(
                PlannedResource(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    id=state.id if state else "",
                    props=dict(state.state) if state else {},
                    dependencies=deps,
                )
            )
        return found


def stack_config_file(stack: str, repo: Path = REPO) -> dict[str, str]:
    """The ``config:`` of ``Pulumi.<stack>.yaml``, as the flat strings Pulumi's runtime holds."""
    path = repo / f"Pulumi.{stack}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"no stack {stack!r}: {exc}", location=Location(str(path))) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid stack file: {exc}", location=Location(str(path))) from exc
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError("'config' must be a map", location=Location(str(path)))
    return {str(k): v if isinstance(v, str) else _json(v) for k, v in config.items()}


def _json(value: object) -> str:
    return json.dumps(value)


def run_offline(stack: str, config: dict[str, str]) -> OfflinePlan:
    """Run the program for ``stack`` under mocks; return what it registered and its inventory.

    The stack's config and its topology file are read and checked before any resource is
    registered: a broken file is an error naming it, never an empty or partial plan.
    """
    mocks = CityMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    stack_config = _stack_config(stack)
    path = topology_path(stack_config)
    topology = load_topology(path)
    plan = OfflinePlan(stack, path)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[None]:
        city = build_city(topology, stack_config)
        return city.inventory.apply(plan.inventory.update)

    program()
    plan.resources = monitor.planned()
    log.info("offline plan of %s: %d resources", stack, len(plan.resources))
    return plan


def _stack_config(stack: str) -> StackConfig:
    try:
        return read_stack_config(pulumi.Config(PROJECT))
    except ValidationError as exc:
        first = exc.errors()[0]
        names = [CONFIG_KEYS.get(str(p), str(p)) for p in first["loc"]]
        where = ".".join(names) or "config"
        raise ConfigError(
            f"stack {stack}: citysoc:{where}: {first['msg']}",
            location=Location(f"Pulumi.{stack}.yaml"),
        ) from exc
