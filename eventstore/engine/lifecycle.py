"""Retention per agency, from the topology: each agency's events are kept as long as its
highest Decree 85 security level asks, by an ISM policy (OpenSearch) or an ILM policy
(Elasticsearch) per level. Both roll over weekly or at 50 GB a primary shard, whichever comes
first: a small agency's streams do not become hundreds of tiny shards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from citysoc.core.topology import Topology
from eventstore.engine.layout import MANAGED, namespace_of

# Days events are kept, by Decree 85 security level. These are citysoc's defaults, not
# figures quoted from a legal text: set them to what each agency's approved security dossier
# requires (TCVN 11930:2017 asks for logs to be kept; the period is the dossier's).
RETENTION_DAYS: Mapping[int, int] = {1: 90, 2: 90, 3: 180, 4: 365, 5: 730}
DEFAULT_LEVEL = 3
"""The level of agencies the topology does not know."""


def policy_name(level: int) -> str:
    return f"citysoc-level-{level}"


def agency_levels(topology: Topology) -> dict[str, int]:
    """Each agency's highest security level among its segments (its retention class)."""
    levels: dict[str, int] = {}
    for segment in topology.segments.values():
        agency = namespace_of(segment.agency)
        levels[agency] = max(int(segment.security_level), levels.get(agency, 0))
    for agency in topology.agencies:
        levels.setdefault(namespace_of(agency), DEFAULT_LEVEL)
    return levels


def by_level(levels: Mapping[str, int]) -> dict[int, list[str]]:
    """The agencies (namespaces) of each level, the default level always present."""
    grouped: dict[int, list[str]] = {DEFAULT_LEVEL: []}
    for agency, level in sorted(levels.items()):
        grouped.setdefault(level, []).append(agency)
    return dict(sorted(grouped.items()))


def lifecycle_policy(flavour: str, level: int, agencies: Iterable[str]) -> dict[str, Any]:
    """The level's policy; on OpenSearch it names the backing indices it manages: its
    agencies' (and, for the default level, every other agency's, at a lower priority)."""
    days = RETENTION_DAYS[level]
    if flavour == "elasticsearch":
        return {
            "policy": {
                "phases": {
                    "hot": {
                        "actions": {"rollover": {"max_age": "7d", "max_primary_shard_size": "50gb"}}
                    },
                    "delete": {"min_age": f"{days}d", "actions": {"delete": {}}},
                },
                "_meta": MANAGED,
            }
        }
    templates = [{"index_patterns": [f".ds-logs-*-{a}-*" for a in agencies], "priority": 100}]
    if level == DEFAULT_LEVEL:
        templates.append({"index_patterns": [".ds-logs-*"], "priority": 10})
    return {
        "policy": {
            "description": f"citysoc: events of security level {level}, kept {days} days",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [
                        {"rollover": {"min_index_age": "7d", "min_primary_shard_size": "50gb"}}
                    ],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [t for t in templates if t["index_patterns"]],
        }
    }
