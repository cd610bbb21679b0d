"""The query language on a search engine: a condition as the engines' query DSL.

Strings are keywords with a lowercase normalizer (:mod:`eventstore.engine.layout`), so values
and wildcards are compared without regard to case (``case_insensitive`` as well, for fields
mapped otherwise); addresses are ``ip`` fields, which take a network in a ``term`` query; a
``NOT`` keeps events that lack the field, as on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from citysoc.core.ecs import timestamp
from citysoc.core.query.tree import (
    AllOf,
    AnyOf,
    Between,
    Condition,
    Contains,
    Equals,
    Exists,
    InNetwork,
    Kind,
    Not,
    OneOf,
    Wildcard,
)
from eventstore.base import MAX_OFFSET, AgencySeen

Query = dict[str, Any]
MATCH_ALL: Query = {"match_all": {}}
SORT = [
    {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
    {"event.id": {"order": "desc", "unmapped_type": "keyword"}},
]
MAX_AGENCIES = 1000


def _escape(text: str) -> str:
    """Literal text inside a wildcard pattern."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def to_dsl(condition: Condition | None) -> Query:
    """The query clause of a condition (``None``: every event)."""
    if condition is None:
        return MATCH_ALL
    if isinstance(condition, AllOf):
        if not condition.parts:
            return MATCH_ALL
        return {"bool": {"filter": [to_dsl(p) for p in condition.parts]}}
    if isinstance(condition, AnyOf):
        if not condition.parts:
            return {"match_none": {}}
        return {"bool": {"should": [to_dsl(p) for p in condition.parts], "minimum_should_match": 1}}
    if isinstance(condition, Not):
        return {"bool": {"must_not": [to_dsl(condition.part)]}}
    name = condition.field.name
    kind = condition.field.kind
    if isinstance(condition, Equals):
        if kind in (Kind.KEYWORD, Kind.TEXT, Kind.ENTITY):
            return {"term": {name: {"value": condition.value, "case_insensitive": True}}}
        return {"term": {name: {"value": condition.value}}}
    if isinstance(condition, Wildcard):
        pattern = condition.pattern.replace("\\", "\\\\")
        return {"wildcard": {name: {"value": pattern, "case_insensitive": True}}}
    if isinstance(condition, Contains):
        pattern = f"*{_escape(condition.text)}*"
        return {"wildcard": {name: {"value": pattern, "case_insensitive": True}}}
    if isinstance(condition, InNetwork):
        return {"term": {name: {"value": str(condition.network)}}}
    if isinstance(condition, OneOf):
        return {"terms": {name: list(condition.values)}}
    if isinstance(condition, Exists):
        return {"exists": {"field": name}}
    assert isinstance(condition, Between)
    bounds: dict[str, Any] = {}
    if condition.low is not None:
        bounds["gte" if condition.include_low else "gt"] = condition.low
    if condition.high is not None:
        bounds["lte" if condition.include_high else "lt"] = condition.high
    if kind is Kind.DATE:
        bounds["format"] = "strict_date_optional_time"
    if not bounds or set(bounds) == {"format"}:
        return {"exists": {"field": name}}
    return {"range": {name: bounds}}


def find_body(condition: Condition | None, *, limit: int, offset: int) -> Query:
    return {
        "query": to_dsl(condition),
        "size": max(0, limit),
        "from": min(max(0, offset), MAX_OFFSET),
        "sort": SORT,
        "track_total_hits": True,
    }


def seen_body(condition: Condition | None) -> Query:
    return {
        "query": to_dsl(condition),
        "size": 0,
        "aggs": {
            "agencies": {
                "terms": {"field": "organization.id", "size": MAX_AGENCIES, "missing": ""},
                "aggs": {
                    "first": {"min": {"field": "@timestamp"}},
                    "last": {"max": {"field": "@timestamp"}},
                },
            }
        },
    }


def _moment(agg: dict[str, Any]) -> str | None:
    value = agg.get("value")
    return None if value is None else timestamp(float(value) / 1000)


def seen_from(answer: dict[str, Any]) -> list[AgencySeen]:
    buckets: Sequence[dict[str, Any]] = (
        answer.get("aggregations", {}).get("agencies", {}).get("buckets", [])
    )
    found = [
        AgencySeen(
            agency=str(bucket["key"]),
            events=int(bucket["doc_count"]),
            first_seen=_moment(bucket.get("first", {})),
            last_seen=_moment(bucket.get("last", {})),
        )
        for bucket in buckets
    ]
    return sorted(found, key=lambda seen: seen.agency)
