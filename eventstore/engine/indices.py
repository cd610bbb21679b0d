"""The one owner of how events are laid out in the engine: data streams, mappings, the
ingest clock, and retention per agency.

- Events go to a data stream per dataset and agency, ``logs-<event.dataset>-<agency>``.
- A component template holds the ECS mappings and settings every stream shares; one index
  template per agency (``logs-*-<agency>``) adds the agency's lifecycle policy, and a
  catch-all (``logs-*-*``, lower priority) covers agencies the topology does not know.
- Strings are ``keyword`` with a lowercase normalizer, because Sigma compares strings
  without regard to case (as the SQLite store's ``COLLATE NOCASE`` does); long free text
  (``event.original``, URLs, bodies) is a ``wildcard`` field, searchable whatever its length.
- The ingest pipeline stamps ``event.ingested`` with the engine's own clock: the position
  detections read from, so an event stored late is still seen.
- Retention follows the agency's highest Decree 85 security level in the topology, as ISM
  policies (OpenSearch) or ILM policies (Elasticsearch).

:func:`install` applies all of it idempotently and says what it changed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from citysoc.core.topology import Topology
from eventstore.engine.client import EngineClient, EngineRequestError

log = logging.getLogger(__name__)

PIPELINE = "citysoc-ingested"
COMPONENT = "citysoc-ecs"
TEMPLATE_PREFIX = "citysoc-logs"
PRIORITY = 200  # above the engines' built-in ``logs`` templates
MANAGED = {"managed_by": "citysoc"}

# Days events are kept, by Decree 85 security level. These are citysoc's defaults, not
# figures quoted from a legal text: set them to what each agency's approved security dossier
# requires (TCVN 11930:2017 asks for logs to be kept; the period is the dossier's).
RETENTION_DAYS: Mapping[int, int] = {1: 90, 2: 90, 3: 180, 4: 365, 5: 730}
DEFAULT_LEVEL = 3

_NOT_IN_NAME = re.compile(r"[^a-z0-9_.]+")


def _clean(value: object, default: str) -> str:
    return _NOT_IN_NAME.sub("_", str(value or default).lower()).strip("_.")[:100] or default


def namespace_of(agency: object) -> str:
    """An agency id as a data stream namespace (``tan-binh`` → ``tan_binh``)."""
    return _clean(agency, "default")


def data_stream(event: Mapping[str, Any]) -> str:
    """The data stream of an event: ``logs-<dataset>-<agency>``, cleaned to the engines'
    naming rules."""
    dataset = _clean(event.get("event.dataset"), "generic")
    return f"logs-{dataset}-{namespace_of(event.get('organization.id'))}"


def agency_streams(agencies: Iterable[str]) -> str:
    """The index pattern of the given agencies' data streams (comma-separated)."""
    names = sorted({namespace_of(a) for a in agencies})
    return ",".join(f"logs-*-{name}" for name in names)


LOWERCASE = "citysoc_lowercase"
_KEYWORD = {"type": "keyword", "ignore_above": 8191, "normalizer": LOWERCASE}
_TEXT = _KEYWORD  # query_string escapes do not reach wildcard fields: keyword it is
_DATE = {"type": "date"}
_IP = {"type": "ip"}
_LONG = {"type": "long"}

# Fields whose type matters for search; every other string is a lowercase keyword.
TYPED_FIELDS: Mapping[str, Mapping[str, Any]] = {
    "@timestamp": _DATE,
    "event.created": _DATE,
    "event.start": _DATE,
    "event.end": _DATE,
    "event.ingested": _DATE,
    "event.duration": _LONG,
    "event.severity": _LONG,
    "event.risk_score": {"type": "float"},
    "event.original": _TEXT,
    "message": _TEXT,
    "url.original": _TEXT,
    "url.full": _TEXT,
    "url.query": _TEXT,
    "url.path": _TEXT,
    "http.request.body.content": _TEXT,
    "http.request.referrer": _TEXT,
    "user_agent.original": _TEXT,
    "dns.question.name": _TEXT,
    "source.ip": _IP,
    "destination.ip": _IP,
    "client.ip": _IP,
    "server.ip": _IP,
    "host.ip": _IP,
    "source.port": _LONG,
    "destination.port": _LONG,
    "source.bytes": _LONG,
    "destination.bytes": _LONG,
    "source.packets": _LONG,
    "destination.packets": _LONG,
    "network.bytes": _LONG,
    "network.packets": _LONG,
    "http.response.status_code": _LONG,
    "file.size": _LONG,
    "file.mtime": _DATE,
    "process.pid": _LONG,
    "citysoc.security_level": _LONG,
}


def _properties(fields: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Dotted field names as the nested ``properties`` mappings need them."""
    root: dict[str, Any] = {}
    for name, mapping in fields.items():
        node = root
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = dict(mapping)
    return root


def component_template() -> dict[str, Any]:
    return {
        "template": {
            "settings": {  # nested and as strings: as the engine answers them back
                "index": {
                    "default_pipeline": PIPELINE,
                    "mapping": {"ignore_malformed": "true", "total_fields": {"limit": "5000"}},
                    "auto_expand_replicas": "0-1",
                    "refresh_interval": "1s",
                    "analysis": {
                        "normalizer": {LOWERCASE: {"type": "custom", "filter": ["lowercase"]}}
                    },
                }
            },
            "mappings": {
                "dynamic_templates": [
                    {"strings": {"match_mapping_type": "string", "mapping": _KEYWORD}}
                ],
                "properties": _properties(TYPED_FIELDS),
            },
        },
        "_meta": MANAGED,
    }


def ingest_pipeline() -> dict[str, Any]:
    """Stamp ``event.ingested`` with the engine's clock (Painless: no template engine needed)."""
    return {
        "description": "citysoc: the engine's clock as event.ingested (where detections read)",
        "processors": [
            {
                "script": {
                    "lang": "painless",
                    "source": "ctx['event.ingested'] = System.currentTimeMillis()",
                }
            }
        ],
    }


def policy_name(level: int) -> str:
    return f"citysoc-level-{level}"


def lifecycle_policy(flavour: str, level: int) -> dict[str, Any]:
    """Roll over daily or at 50 GB a shard; delete after the level's retention."""
    days = RETENTION_DAYS[level]
    if flavour == "elasticsearch":
        return {
            "policy": {
                "phases": {
                    "hot": {
                        "actions": {"rollover": {"max_age": "1d", "max_primary_shard_size": "50gb"}}
                    },
                    "delete": {"min_age": f"{days}d", "actions": {"delete": {}}},
                },
                "_meta": MANAGED,
            }
        }
    return {
        "policy": {
            "description": f"citysoc: events of security level {level}, kept {days} days",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [
                        {"rollover": {"min_index_age": "1d", "min_primary_shard_size": "50gb"}}
                    ],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
        }
    }


def agency_levels(topology: Topology) -> dict[str, int]:
    """Each agency's highest security level among its segments (its retention class)."""
    levels: dict[str, int] = {}
    for segment in topology.segments.values():
        agency = namespace_of(segment.agency)
        levels[agency] = max(int(segment.security_level), levels.get(agency, 0))
    for agency in topology.agencies:
        levels.setdefault(namespace_of(agency), DEFAULT_LEVEL)
    return levels


def index_template(flavour: str, pattern: str, level: int, priority: int) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if flavour == "elasticsearch":
        settings["index.lifecycle.name"] = policy_name(level)
    else:
        settings["plugins.index_state_management.policy_id"] = policy_name(level)
    return {
        "index_patterns": [pattern],
        "data_stream": {},
        "priority": priority,
        "composed_of": [COMPONENT],
        "template": {"settings": settings},
        "_meta": {**MANAGED, "security_level": level},
    }


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
        try:
            client.request("GET", "/_ilm/status")
            lifecycle = True
        except EngineRequestError:
            lifecycle = False
        return Features(lifecycle=lifecycle, security=lifecycle)
    plugins = {
        str(row.get("component"))
        for row in client.request("GET", "/_cat/plugins", params={"format": "json"})
    }
    return Features(
        lifecycle="opensearch-index-management" in plugins,
        security="opensearch-security" in plugins,
    )


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


def _install_policy(client: EngineClient, level: int) -> Change:
    name = policy_name(level)
    body = lifecycle_policy(client.flavour, level)
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
    """Put the pipeline, templates and lifecycle policies; idempotent."""
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
    for level in sorted(set(levels.values()) | {DEFAULT_LEVEL}):
        if found.lifecycle:
            changes.append(_install_policy(client, level))
        else:
            changes.append(
                Change(
                    "lifecycle policy",
                    policy_name(level),
                    "unsupported",
                    "this engine has no lifecycle management: indices are kept until deleted",
                )
            )
    templates = {
        f"{TEMPLATE_PREFIX}-{agency}": (f"logs-*-{agency}", level, PRIORITY + 1)
        for agency, level in sorted(levels.items())
    }
    templates[TEMPLATE_PREFIX] = ("logs-*-*", DEFAULT_LEVEL, PRIORITY)
    for name, (pattern, level, priority) in templates.items():
        body = index_template(client.flavour, pattern, level, priority)
        if not found.lifecycle:
            body["template"] = {"settings": {}}
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
