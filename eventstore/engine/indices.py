"""``citysoc store init``: put the layout (``layout``), the retention policies
(``lifecycle``) and the agencies' read roles (``roles``) into the engine, idempotently, and
say what changed; and what an engine lacks before the SOC API may use it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from citysoc.core.topology import Topology
from eventstore.engine.client import EngineClient, EngineRequestError
from eventstore.engine.layout import (
    COMPONENT,
    PIPELINE,
    PRIORITY,
    TEMPLATE_PREFIX,
    component_template,
    index_template,
    ingest_pipeline,
)
from eventstore.engine.lifecycle import (
    DEFAULT_LEVEL,
    agency_levels,
    by_level,
    lifecycle_policy,
    policy_name,
)
from eventstore.engine.roles import put_read_role, role_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One thing :func:`install` looked at: created, updated, unchanged or unsupported."""

    kind: str
    name: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Features:
    lifecycle: bool
    security: bool


def features(client: EngineClient) -> Features:
    """Which optional parts this engine build has (lifecycle and security are plugins or
    licensed features; a node assembled from open modules may lack them)."""
    if client.flavour == "elasticsearch":
        return Features(
            lifecycle=_answers(client, "/_ilm/status"),
            security=_answers(client, "/_security/_authenticate"),
        )
    plugins = {
        str(row.get("component"))
        for row in client.request("GET", "/_cat/plugins", params={"format": "json"})
    }
    return Features(
        lifecycle="opensearch-index-management" in plugins,
        security="opensearch-security" in plugins,
    )


def _answers(client: EngineClient, path: str) -> bool:
    try:
        client.request("GET", path)
    except EngineRequestError:
        return False
    return True


def _put(
    client: EngineClient, kind: str, name: str, path: str, body: dict[str, Any], current: Any
) -> Change:
    if current is not None and _same(current, body):
        return Change(kind, name, "unchanged")
    client.request("PUT", path, body=body)
    return Change(kind, name, "created" if current is None else "updated")


def _same(current: Any, wanted: Any) -> bool:
    """Whether what the engine holds already says everything ``wanted`` says."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            _same(current.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(_same(c, w) for c, w in zip(current, wanted, strict=True))
        )
    return current == wanted or str(current) == str(wanted)


def _get(client: EngineClient, path: str) -> Any:
    try:
        return client.request("GET", path)
    except EngineRequestError as exc:
        if exc.status == 404:
            return None
        raise


def _current_pipeline(client: EngineClient) -> Any:
    found = _get(client, f"/_ingest/pipeline/{PIPELINE}")
    return None if found is None else found.get(PIPELINE)


def _current_component(client: EngineClient) -> Any:
    found = _get(client, f"/_component_template/{COMPONENT}")
    if not found:
        return None
    return found["component_templates"][0]["component_template"]


def _current_template(client: EngineClient, name: str) -> Any:
    found = _get(client, f"/_index_template/{name}")
    if not found:
        return None
    return found["index_templates"][0]["index_template"]


def _install_policy(client: EngineClient, level: int, agencies: list[str]) -> Change:
    name = policy_name(level)
    body = lifecycle_policy(client.flavour, level, agencies)
    if client.flavour == "elasticsearch":
        current = _get(client, f"/_ilm/policy/{name}")
        held = current[name]["policy"] if current else None
        return _put(
            client,
            "lifecycle policy",
            name,
            f"/_ilm/policy/{name}",
            body,
            held and {"policy": held},
        )
    current = _get(client, f"/_plugins/_ism/policies/{name}")
    if current is None:
        client.request("PUT", f"/_plugins/_ism/policies/{name}", body=body)
        return Change("lifecycle policy", name, "created")
    if _same(current.get("policy"), body["policy"]):
        return Change("lifecycle policy", name, "unchanged")
    client.request(
        "PUT",
        f"/_plugins/_ism/policies/{name}",
        body=body,
        params={
            "if_seq_no": str(current["_seq_no"]),
            "if_primary_term": str(current["_primary_term"]),
        },
    )
    return Change("lifecycle policy", name, "updated")


def install(client: EngineClient, topology: Topology) -> list[Change]:
    """Put the pipeline, templates, lifecycle policies and (with security) the agencies' read
    roles; idempotent."""
    found = features(client)
    changes = [
        _put(
            client,
            "ingest pipeline",
            PIPELINE,
            f"/_ingest/pipeline/{PIPELINE}",
            ingest_pipeline(),
            _current_pipeline(client),
        ),
        _put(
            client,
            "component template",
            COMPONENT,
            f"/_component_template/{COMPONENT}",
            component_template(),
            _current_component(client),
        ),
    ]
    levels = agency_levels(topology)
    for level, agencies in by_level(levels).items():
        if found.lifecycle:
            changes.append(_install_policy(client, level, agencies))
        else:
            changes.append(
                Change(
                    "lifecycle policy",
                    policy_name(level),
                    "unsupported",
                    "this engine has no lifecycle management: indices are kept until deleted",
                )
            )
    for agency in sorted(levels):
        if found.security:
            changes.append(Change("read role", role_name(agency), put_read_role(client, agency)))
        else:
            changes.append(
                Change(
                    "read role",
                    role_name(agency),
                    "unsupported",
                    "this engine has no security: the SOC API alone limits reads per agency",
                )
            )
    templates = {
        f"{TEMPLATE_PREFIX}-{agency}": (f"logs-*-{agency}", level, PRIORITY + 1)
        for agency, level in sorted(levels.items())
    }
    templates[TEMPLATE_PREFIX] = ("logs-*-*", DEFAULT_LEVEL, PRIORITY)
    for name, (pattern, level, priority) in templates.items():
        body = index_template(client.flavour, pattern, level, priority, lifecycle=found.lifecycle)
        changes.append(
            _put(
                client,
                "index template",
                name,
                f"/_index_template/{name}",
                body,
                _current_template(client, name),
            )
        )
    return changes


def missing(client: EngineClient) -> list[str]:
    """What :func:`install` puts that the engine lacks (empty when it is ready)."""
    lacking = []
    if _current_pipeline(client) is None:
        lacking.append(f"ingest pipeline {PIPELINE}")
    if _current_component(client) is None:
        lacking.append(f"component template {COMPONENT}")
    if _current_template(client, TEMPLATE_PREFIX) is None:
        lacking.append(f"index template {TEMPLATE_PREFIX}")
    return lacking
