"""What the Elasticsearch sink installs at start: an ILM policy and an ECS index template.

The template matches the data streams ``logs-<dataset>-<agency>`` with a priority above the
built-in ``logs`` template. It maps the ECS fields citysoc writes whose type matters for
search (times, addresses, numbers, long text); every other string is a ``keyword``.
"""

from __future__ import annotations

from typing import Any

ILM_POLICY_NAME = "citysoc-logs"
TEMPLATE_NAME = "citysoc-logs"
TEMPLATE_PRIORITY = 200

ILM_POLICY: dict[str, Any] = {
    "phases": {
        "hot": {"actions": {"rollover": {"max_primary_shard_size": "50gb", "max_age": "7d"}}},
        "delete": {"min_age": "400d", "actions": {"delete": {}}},  # a year, plus the audit
    }
}

_DATE = {"type": "date"}
_IP = {"type": "ip"}
_LONG = {"type": "long"}
_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def _endpoint() -> dict[str, Any]:
    return {
        "properties": {
            "ip": _IP,
            "address": _KEYWORD,
            "port": _LONG,
            "bytes": _LONG,
            "packets": _LONG,
            "domain": _KEYWORD,
            "mac": _KEYWORD,
        }
    }


MAPPINGS: dict[str, Any] = {
    "dynamic_templates": [
        {"strings_as_keyword": {"match_mapping_type": "string", "mapping": _KEYWORD}},
    ],
    "properties": {
        "@timestamp": _DATE,
        "message": {"type": "match_only_text"},
        "data_stream": {
            "properties": {
                "type": {"type": "constant_keyword"},
                "dataset": {"type": "constant_keyword"},
                "namespace": {"type": "constant_keyword"},
            }
        },
        "event": {
            "properties": {
                "original": {"type": "keyword", "index": False, "doc_values": False},
                "created": _DATE,
                "start": _DATE,
                "end": _DATE,
                "ingested": _DATE,
                "duration": _LONG,
                "severity": _LONG,
                "risk_score": {"type": "float"},
            }
        },
        "source": _endpoint(),
        "destination": _endpoint(),
        "host": {"properties": {"ip": _IP}},
        "network": {"properties": {"bytes": _LONG, "packets": _LONG}},
        "http": {
            "properties": {
                "response": {
                    "properties": {"status_code": _LONG, "body": {"properties": {"bytes": _LONG}}}
                }
            }
        },
        "file": {"properties": {"size": _LONG, "mtime": _DATE}},
        "process": {"properties": {"pid": _LONG}},
        "url": {"properties": {"original": {"type": "wildcard"}}},
        "citysoc": {"properties": {"security_level": _LONG}},
    },
}

INDEX_TEMPLATE: dict[str, Any] = {
    "index_patterns": ["logs-*-*"],
    "data_stream": {},
    "priority": TEMPLATE_PRIORITY,
    "template": {
        "settings": {
            "index.lifecycle.name": ILM_POLICY_NAME,
            "index.mapping.total_fields.limit": 5000,
        },
        "mappings": MAPPINGS,
    },
    "meta": {"managed_by": "citysoc", "description": "ECS events collected by citysoc"},
}
