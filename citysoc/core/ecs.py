"""Elastic Common Schema helpers.

Inside citysoc an event is a *flat* mapping from dotted ECS field names to scalar values
(``{"source.ip": "10.31.0.7", "event.action": "rtsp-request"}``): the shape SQLite columns,
Sigma rules and Elasticsearch's dotted-field handling all understand. :func:`nest` gives the
nested JSON document where one is wanted.

citysoc's own fields live under ``citysoc.*`` (ECS reserves no segment notion):
``citysoc.segment`` is the event's segment, ``citysoc.source.*`` and
``citysoc.destination.*`` place each address in the topology.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

Scalar = str | int | float | bool | None
Event = dict[str, Any]
# Events with the same fields, column-wise: their field names and one tuple of values each
EventGroup = tuple[tuple[str, ...], list[tuple[Any, ...]]]

ECS_VERSION = "8.11.0"


def event_id(*parts: object, at: float | None = None) -> str:
    """A deterministic id (32 hex digits) from the parts that make an event unique at its source.

    Re-sending the same observation yields the same id, so stores can drop duplicates. Given
    ``at``, the time the source gives the event (epoch seconds: part of the observation, so
    the id stays deterministic), the id begins with it: 12 hex digits of milliseconds, then 20
    of hash. Ids that grow with time go to the
    end of a store's unique index instead of anywhere in it: SQLite rewrites fewer index pages
    and Elasticsearch looks ids up faster.
    """
    if at is not None:
        return time_prefix(at) + _digest(parts, 10)
    return _digest(parts, 16)


def time_prefix(at: float) -> str:
    """The first 12 hex digits of an id made at ``at`` (epoch seconds; 0 before 1970)."""
    return f"{max(0, min(round(at * 1000), _MAX_MS)):012x}"


_MAX_MS = 16**12 - 1


def _digest(parts: tuple[object, ...], size: int) -> str:
    digest = hashlib.blake2b(digest_size=size)
    for part in parts:
        digest.update(utf8(str(part)))
        digest.update(b"\x1f")
    return digest.hexdigest()


def utf8(text: str) -> bytes:
    """``text`` as bytes for hashing; never fails.

    Undecodable bytes kept as surrogate escapes come back as themselves; any other lone
    surrogate (a JSON ``\\ud800`` escape) is written as its three bytes.
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def timestamp(epoch_seconds: float) -> str:
    """ECS ``@timestamp``: ISO 8601 in UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Read an ECS timestamp (``Z`` or offset) into an aware UTC datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def flatten(doc: Mapping[str, Any], prefix: str = "") -> Event:
    """Nested document to dotted keys. Lists stay lists (stored as JSON)."""
    flat: Event = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys to a nested document; ``@timestamp`` stays at the top."""
    doc: dict[str, Any] = {}
    for name, value in flat.items():
        if value is None:
            continue
        parts = name.split(".") if name != "@timestamp" else [name]
        node = doc
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a scalar and an object share a name: keep both
                child = node[part] = {"value": child}
            node = child
        node[parts[-1]] = value
    return doc
