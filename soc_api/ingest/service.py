"""Parse an NDJSON body into events, place them in the city, store them.

A bad line is counted with its line number and the good ones are stored: one broken record
never costs a collector its batch. An ingest token bound to an agency may only write that
agency's events.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from citysoc.core.ecs import Event, event_id, flatten, parse_timestamp
from citysoc.core.errors import Location
from collectors.enrich import Enricher
from eventstore.base import EventStore

log = logging.getLogger(__name__)

FIELD_NAME = re.compile(r"^[@A-Za-z_][A-Za-z0-9_.@-]{0,127}$")
MAX_REPORTED_ERRORS = 1000
MAX_LOGGED_ERRORS = 20  # per request: a flood of bad lines cannot flood the log
MAX_FIELDS = 1024  # fields of one event, after flattening
SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")  # JSON text that may decode to one


class LineError(BaseModel):
    line: int
    message: str


class IngestReport(BaseModel):
    stored: int
    duplicates: int
    rejected: int
    errors: list[LineError]


@dataclass
class ParsedBody:
    events: list[tuple[int, Event]] = field(default_factory=list)  # (line, event)
    errors: list[LineError] = field(default_factory=list)
    rejected: int = 0

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line=line, message=message))
        if self.rejected <= MAX_LOGGED_ERRORS:  # every one is in the report; the log is bounded
            log.warning("ingest: rejected %s: %s", Location("ingest", line=line), message)
        elif self.rejected == MAX_LOGGED_ERRORS + 1:
            log.warning("ingest: more lines rejected; the caller's report lists them")


def parse_line(text: str) -> Event:
    """One NDJSON line to a flat event; ValueError says what is wrong with it."""
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ValueError("not usable JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise ValueError(f"not usable JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    event = flatten(doc)
    if len(event) > MAX_FIELDS:
        raise ValueError(f"{len(event)} fields; at most {MAX_FIELDS} are taken")
    bad = next((k for k in event if not FIELD_NAME.match(k)), None)
    if bad is not None:
        raise ValueError(f"unusable field name {bad.encode('utf-8', 'replace')[:64]!r}")
    if SURROGATE_ESCAPE.search(text):
        _check_unicode(event)
    stamp = event.get("@timestamp")
    if not isinstance(stamp, str):
        raise ValueError("no @timestamp")
    try:
        parse_timestamp(stamp)
    except ValueError:
        raise ValueError(f"@timestamp {stamp[:40]!r} is not an ISO 8601 time") from None
    if not event.get("event.id"):
        event["event.id"] = event_id("ingest", json.dumps(event, sort_keys=True, default=str))
    return event


def _check_unicode(event: Event) -> None:
    """Refuse a lone surrogate (``"\\ud800"``): valid JSON, but no store can encode it."""
    for name, value in event.items():
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"field {name!r} holds a lone surrogate: not valid Unicode") from None


def parse_body(lines: Iterable[bytes]) -> ParsedBody:
    parsed = ParsedBody()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            parsed.events.append((number, parse_line(text.decode("utf-8"))))
        except UnicodeDecodeError:
            parsed.reject(number, "not UTF-8")
        except (ValueError, RecursionError) as exc:
            parsed.reject(number, str(exc))
    return parsed


def place(parsed: ParsedBody, enricher: Enricher, agency: str | None) -> list[Event]:
    """Enrich what is not enriched yet; refuse (and report) events of an agency the city does
    not have, or outside the token's agency."""
    kept: list[Event] = []
    topology = enricher.topology
    for line, event in parsed.events:
        if not (event.get("organization.id") and event.get("citysoc.segment")):
            enricher(event)
        owner = event.get("organization.id")
        segment = event.get("citysoc.segment")
        if not isinstance(owner, str) or owner not in topology.agencies:
            parsed.reject(line, f"organization.id {str(owner)[:64]!r} is not an agency of the city")
            continue
        if not isinstance(segment, str) or segment not in {*topology.segments, "unknown"}:
            parsed.reject(
                line, f"citysoc.segment {str(segment)[:64]!r} is not a segment of the city"
            )
            continue
        if agency is not None and owner != agency:
            parsed.reject(
                line,
                f"event {event['event.id']} belongs to agency {owner}, "
                f"this token writes only for {agency}",
            )
            continue
        kept.append(event)
    return kept


def ingest(
    body: bytes, *, store: EventStore, enricher: Enricher, agency: str | None
) -> IngestReport:
    parsed = parse_body(body.splitlines())
    events = place(parsed, enricher, agency)
    result = store.write(events)
    return IngestReport(
        stored=result.inserted,
        duplicates=result.duplicates,
        rejected=parsed.rejected + result.rejected,
        errors=parsed.errors,
    )
