"""One scan for every event rule matches exactly what each rule's own query matches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from citysoc.core.ecs import Event, event_id
from detections.engine.catalog import load_catalog
from detections.engine.compiler import CompiledRule, compile_catalog
from detections.engine.condition_shape import needed_columns, parse, required_values
from detections.engine.event_scan import condition, plan
from detections.engine.proving import load_sample
from detections.engine.runner import DetectionRunner
from detections.engine.targets import SCOPE
from eventstore.sqlite import TABLE, SqliteEventStore

CATALOG = load_catalog()
RULES = compile_catalog(CATALOG).rules
EVENT_RULES = [r for r in RULES if r.kind == "event"]
A = "event.action"


def _variants(event: Event, n: int) -> list[Event]:
    """The event as it is, with its texts upper-cased, and with its ``event.action`` in mixed
    case: the pre-filter must not lose what LIKE and NOCASE match in any ASCII case."""
    upper = {k: v.upper() if isinstance(v, str) else v for k, v in event.items()}
    mixed = dict(event)
    if isinstance(event.get("event.action"), str):
        mixed["event.action"] = str(event["event.action"]).title()
    out = []
    for k, variant in enumerate((dict(event), upper, mixed)):
        variant["event.id"] = event_id("scan", n, k)
        variant["@timestamp"] = event["@timestamp"]
        out.append(variant)
    return out


def _evidence() -> list[Event]:
    events: list[Event] = []
    for folder in CATALOG.folders:
        for sample in [*folder.match, *folder.nomatch]:
            for event in load_sample(sample):
                events.extend(_variants(event, len(events)))
    return events


def _alone(store: SqliteEventStore, rule: CompiledRule) -> Counter[str]:
    """The rule's own query, on its own, over the whole store."""
    store.conn.execute(f"DROP VIEW IF EXISTS temp.{SCOPE}")
    store.conn.execute(f"CREATE TEMP VIEW {SCOPE} AS SELECT * FROM main.{TABLE}")
    cur = store.conn.execute(rule.sql)
    names = [d[0] for d in cur.description]
    found = Counter(str(dict(zip(names, row, strict=True))["event.id"]) for row in cur)
    store.conn.execute(f"DROP VIEW temp.{SCOPE}")
    return found


@pytest.fixture(scope="module")
def evidence_store() -> SqliteEventStore:
    store = SqliteEventStore(Path(":memory:"))
    store.ensure_columns({f for r in RULES for f in r.fields})
    store.write(_evidence())
    return store


def test_every_catalog_rule_takes_part_in_a_combined_scan() -> None:
    scans, alone = plan(EVENT_RULES)
    assert alone == []
    assert sum(len(scan.rules) for scan in scans) == len(EVENT_RULES)
    assert all(parse(condition(rule) or "") is not None for rule in EVENT_RULES)


def test_the_combined_scan_matches_what_each_rule_matches_alone(
    evidence_store: SqliteEventStore,
) -> None:
    report = DetectionRunner(evidence_store, EVENT_RULES).run(0, evidence_store.head())
    assert not report.rule_errors
    together: dict[str, Counter[str]] = {r.rule_id: Counter() for r in EVENT_RULES}
    for hit in report.hits:
        together[hit.rule.rule_id].update(hit.event_ids)
    fired = 0
    for rule in EVENT_RULES:
        alone = _alone(evidence_store, rule)
        assert together[rule.rule_id] == alone, rule.name
        fired += bool(alone)
    assert fired == len(EVENT_RULES)  # every rule fired on its own evidence, in every case


def test_hits_come_rule_by_rule_in_store_order(evidence_store: SqliteEventStore) -> None:
    report = DetectionRunner(evidence_store, EVENT_RULES).run(0, evidence_store.head())
    order = [r.rule_id for r in EVENT_RULES]
    ranks = [order.index(hit.rule.rule_id) for hit in report.hits]
    assert ranks == sorted(ranks)


def test_a_rule_whose_query_fails_reports_its_error_and_the_others_still_fire() -> None:
    store = SqliteEventStore(Path(":memory:"))
    good = next(r for r in EVENT_RULES if r.name == "lateral_movement_telnet_from_camera")
    broken = CompiledRule(
        rule_id="broken", name="broken", title="t", level="low", kind="event",
        sql=f"SELECT * FROM {SCOPE} WHERE no_such_function(`source.ip`) = 1",
        fields=("source.ip",), entity=("source.ip",),
    )  # fmt: skip
    store.write(
        [
            {
                "event.id": event_id("telnet"),
                "@timestamp": "2026-11-20T02:00:00.000Z",
                "event.action": "network_flow",
                "citysoc.source.kind": "camera",
                "destination.port": 23,
                "source.ip": "10.31.0.9",
            }
        ]
    )
    report = DetectionRunner(store, [broken, good]).run(0, store.head())
    assert "no_such_function" in report.rule_errors["broken"]
    assert [hit.rule.name for hit in report.hits] == [good.name]


@pytest.mark.parametrize(
    "where",
    ["`a` = 1) OR (1", "`a` = 1; DROP TABLE events", "`a` = 1 -- c", "`a` = 'x", "(`a` = 1"],
)
def test_a_condition_that_is_not_one_expression_is_not_combined(where: str) -> None:
    rule = CompiledRule(
        rule_id="x", name="x", title="t", level="low", kind="event",
        sql=f"SELECT * FROM {SCOPE} WHERE {where}", fields=("a",), entity=("a",),
    )  # fmt: skip
    assert condition(rule) is None
    assert plan([rule]) == ([], [rule])


def test_a_rule_of_another_shape_runs_alone() -> None:
    shaped = CompiledRule(
        rule_id="x", name="x", title="t", level="low", kind="event",
        sql=f"SELECT * FROM {SCOPE} WHERE `source.ip` = '10.0.0.1' ORDER BY seq DESC LIMIT 1",
        fields=("source.ip",), entity=("source.ip",),
    )  # fmt: skip
    store = SqliteEventStore(Path(":memory:"))
    store.write(
        [
            {"event.id": event_id("a", n), "@timestamp": "2026-11-20T02:00:00Z", "source.ip": ip}
            for n, ip in enumerate(["10.0.0.1", "10.0.0.1", "10.0.0.2"])
        ]
    )
    report = DetectionRunner(store, [shaped]).run(0, store.head())
    assert not report.rule_errors
    assert [hit.event_ids for hit in report.hits] == [(event_id("a", 1),)]


@pytest.mark.parametrize(
    ("text", "field", "values"),
    [
        ("`event.action` LIKE 'dns\\_query' ESCAPE '\\'", "event.action", {"dns_query"}),
        ("`event.action`='Firewall-Drop' OR `event.action`='x'", A, {"firewall-drop", "x"}),
        ("`a`='1' AND (`event.action` LIKE 'x' OR `event.action` LIKE 'y')", A, {"x", "y"}),
        ("`event.action` LIKE 'dns%'", "event.action", None),  # a wildcard: no single value
        ("`event.action` LIKE 'a\\%b' ESCAPE '\\'", "event.action", {"a%b"}),
        ("`event.action`='x' OR `b`='y'", "event.action", None),  # the other branch: anything
        ("NOT COALESCE((`event.action`='x'), 0)", "event.action", None),
        ("`event.action`='đăng_nhập'", "event.action", None),  # not ASCII: no shortcut
        ("`event.action` >= 'x'", "event.action", None),
        ("`seq` = '05'", "seq", None),  # a number in a numeric column: 5 equals it
        ("`user.name` LIKE '888888'", "user.name", {"888888"}),  # LIKE compares text
    ],
)  # fmt: skip
def test_required_values(text: str, field: str, values: set[str] | None) -> None:
    node = parse(text)
    assert node is not None
    found = required_values(node, field)
    assert (set(found) if found is not None else None) == values


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("`a` LIKE '%x%' OR `b` LIKE '%y%' OR message LIKE '%z%'", {"a", "b", "message"}),
        ("`a`='x' AND (`b`='1' OR `c`='2' OR `d` REGEXP 'q')", {"a"}),
        ("CAST(strftime('%H', `@timestamp`) AS INTEGER)=16", {"@timestamp"}),
        ("NOT COALESCE((`a`='x'), 0)", None),  # true where a is NULL
        ("`a`='x' OR NOT COALESCE((`b`='y'), 0)", None),
    ],
)  # fmt: skip
def test_needed_columns(text: str, columns: set[str] | None) -> None:
    node = parse(text)
    assert node is not None
    found = needed_columns(node)
    assert (set(found) if found is not None else None) == columns


@pytest.mark.parametrize(
    "text",
    [
        "`a` IS NULL",
        "`a` NOT LIKE 'x'",
        "EXISTS (SELECT 1 FROM json_each(`a`) AS e WHERE e.value = 'x')",
        "`a` = 'x' ORDER BY seq",
        "'x' = `a`",
        "`a` COLLATE NOCASE = 'x'",
        "(`a` = 'x'",
        "coalesce_of(`a`) = 1",  # a function not known to keep NULL
    ],
)
def test_text_outside_the_grammar_is_not_read(text: str) -> None:
    assert parse(text) is None


def test_a_pinned_value_is_found_whatever_type_and_case_the_field_holds() -> None:
    rule = CompiledRule(
        rule_id="pin", name="pin", title="t", level="low", kind="event",
        sql=f"SELECT * FROM {SCOPE} WHERE `user.name` LIKE '888888' OR `user.name` LIKE 'Admin'",
        fields=("user.name",), entity=("user.name",),
    )  # fmt: skip
    assert "CASE CAST" in plan([rule])[0][0].sql  # the rule is narrowed by the pinned values
    store = SqliteEventStore(Path(":memory:"))
    values: list[object] = [888888, "888888", "ADMIN", "admin", 888888.5, "admins", None]
    store.write(
        [
            {"event.id": event_id("pin", n), "@timestamp": "2026-11-20T02:00:00Z", "user.name": v}
            for n, v in enumerate(values)
        ]
    )
    report = DetectionRunner(store, [rule]).run(0, store.head())
    assert sorted(hit.event_ids[0] for hit in report.hits) == sorted(
        event_id("pin", n) for n in range(4)
    )
