"""Sigma values match any element of an ECS array field on the SQLite store, as on the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from sigma.collection import SigmaCollection

from citysoc.core.ecs import Event, event_id
from detections.engine.compiler import CompiledRule
from detections.engine.runner import DetectionRunner
from detections.engine.targets import backend, convert
from eventstore.sqlite import SqliteEventStore

RULE = """
title: {title}
id: {id}
status: test
logsource:
  product: linux
  service: sshd
detection:
  selection:
{selection}
  condition: selection
level: low
"""


def compiled(selection: str, fields: tuple[str, ...]) -> CompiledRule:
    text = RULE.format(title="t", id="5d6b2b4e-8f0e-4a51-9a57-3d1b7d2f0c11", selection=selection)
    rule = SigmaCollection.from_yaml(text).rules[0]
    sql = str(convert(backend("sqlite"), rule)[-1])
    return CompiledRule(
        rule_id="r", name="r", title="t", level="low", kind="event", sql=sql,
        fields=fields, entity=("source.ip",),
    )  # fmt: skip


def event(n: int, **fields: object) -> Event:
    return {"event.id": event_id("t", n), "@timestamp": f"2026-11-20T02:00:{n:02d}.000Z", **fields}


EVENTS = [
    event(
        1,
        **{
            "event.category": ["authentication", "session"],
            "event.type": ["info", "start"],
            "related.ip": ["203.0.113.77", "10.10.0.20"],
            "source.ip": "203.0.113.77",
        },
    ),
    event(2, **{"event.category": ["network"], "event.type": ["connection"]}),
    event(
        3,
        **{
            "event.category": ["network"],
            "dns.answers": [
                {"type": "CNAME", "data": "a.example"},
                {"type": "A", "data": "10.9.9.9"},
            ],
        },
    ),
    event(4, **{"dns.answers": [{"type": "A", "data": "10.9.9.8"}]}),
    event(5, **{"event.category": "Session"}),  # a store written before arrays: one value
]


@pytest.mark.parametrize(
    ("selection", "fields", "hits"),
    [
        ("    event.category: session", ("event.category",), {1, 5}),
        ("    event.category: network", ("event.category",), {2, 3}),
        ("    event.type:\n      - start\n      - end", ("event.type",), {1}),
        ("    event.category|startswith: authent", ("event.category",), {1}),
        ("    related.ip|cidr: 10.10.0.0/16", ("related.ip",), {1}),
        ("    related.ip: 203.0.113.77", ("related.ip",), {1}),
        ("    dns.answers.data: 10.9.9.9", ("dns.answers",), {3}),
        ("    dns.answers.data|startswith: '10.9.9.'", ("dns.answers",), {3, 4}),
        ("    dns.answers.type: cname", ("dns.answers",), {3}),
        ("    event.category|re: '^sess'", ("event.category",), {1}),  # re is case-sensitive
    ],
)
def test_any_element_matches(selection: str, fields: tuple[str, ...], hits: set[int]) -> None:
    store = SqliteEventStore(Path(":memory:"))
    store.write(EVENTS)
    rule = compiled(selection, fields)
    report = DetectionRunner(store, [rule]).run(0, store.head())
    assert report.rule_errors == {}
    by_id = {e["event.id"]: n for n, e in enumerate(EVENTS, start=1)}
    assert {by_id[h.event_ids[0]] for h in report.hits} == hits, rule.sql


def test_a_single_value_field_still_compiles_to_a_plain_comparison() -> None:
    rule = compiled("    source.ip: 203.0.113.77", ("source.ip",))
    assert "json_each" not in rule.sql
    assert "json_each" in compiled("    event.category: session", ("event.category",)).sql
