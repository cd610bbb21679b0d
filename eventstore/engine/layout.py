"""How events are laid out in the engine: names, mappings and the ingest clock.

- Events go to a data stream per dataset and agency, ``logs-<event.dataset>-<agency>``.
- A component template holds the ECS mappings and settings every stream shares; one index
  template per agency (``logs-*-<agency>``) adds the agency's lifecycle policy where the
  engine takes it in the template (Elasticsearch), and a catch-all (``logs-*-*``, lower
  priority) covers agencies the topology does not know.
- Strings are ``keyword`` with a lowercase normalizer, because Sigma compares strings
  without regard to case (as the SQLite store's ``COLLATE NOCASE`` does); values longer
  than 8,191 characters are kept but not indexed, and named in ``citysoc.long_fields``.
- The ingest pipeline stamps ``event.ingested`` with the engine's own clock: the position
  detections read from, so an event stored late is still seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PIPELINE = "citysoc-ingested"
COMPONENT = "citysoc-ecs"
TEMPLATE_PREFIX = "citysoc-logs"
PRIORITY = 200  # above the engines' built-in ``logs`` templates
MANAGED = {"managed_by": "citysoc"}


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
KEYWORD_LIMIT = 8191  # characters: a keyword term must stay under 32,766 bytes of UTF-8
LONG_FIELDS = "citysoc.long_fields"
"""Names of an event's string fields too long to be indexed: rules' engine queries also
fetch such events, so the SQLite queries that decide still see every value."""

_KEYWORD = {"type": "keyword", "ignore_above": KEYWORD_LIMIT, "normalizer": LOWERCASE}
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
    "related.ip": _IP,  # ECS arrays of addresses: a CIDR rule matches any of them
    "dns.resolved_ip": _IP,
    "tls.server.not_before": _DATE,
    "tls.server.not_after": _DATE,
    "tls.server.x509.not_before": _DATE,
    "tls.server.x509.not_after": _DATE,
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
    LONG_FIELDS: {"type": "keyword"},
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


_STAMP = f"""
ctx['event.ingested'] = System.currentTimeMillis();
List longer = new ArrayList();
for (def field : ctx.entrySet()) {{
  if (field.getValue() instanceof String && field.getValue().length() > {KEYWORD_LIMIT}) {{
    longer.add(field.getKey());
  }}
}}
if (!longer.isEmpty()) {{ ctx['{LONG_FIELDS}'] = longer; }}
"""


def ingest_pipeline() -> dict[str, Any]:
    """Stamp ``event.ingested`` with the engine's clock, and name the strings too long to be
    indexed (Painless: no template engine needed)."""
    return {
        "description": "citysoc: the engine's clock as event.ingested (where detections read)",
        "processors": [{"script": {"lang": "painless", "source": _STAMP.strip()}}],
    }


def index_template(
    flavour: str, pattern: str, level: int, priority: int, *, lifecycle: bool
) -> dict[str, Any]:
    """A data stream template; on Elasticsearch it names the level's lifecycle policy (ISM
    on OpenSearch finds indices by the policy's own patterns instead)."""
    settings: dict[str, Any] = {}
    if flavour == "elasticsearch" and lifecycle:
        settings["index.lifecycle.name"] = f"citysoc-level-{level}"
    return {
        "index_patterns": [pattern],
        "data_stream": {},
        "priority": priority,
        "composed_of": [COMPONENT],
        "template": {"settings": settings},
        "_meta": {**MANAGED, "security_level": level},
    }
