"""The search language: what it reads, what it refuses (with the column), how it binds to a
view's fields; and, on random text and random well-formed queries, that nothing but its own
QueryError ever comes out of the parser, the binding or the three compilers."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from citysoc.core.errors import QueryError
from citysoc.core.query import compile_query, event_schema, parse, pointer
from citysoc.core.query.tree import (
    AllOf,
    AnyOf,
    Between,
    Both,
    Contains,
    Either,
    Equals,
    Exists,
    InNetwork,
    Negation,
    Not,
    Span,
    Term,
    Wildcard,
)
from eventstore.engine.query_dsl import to_dsl
from eventstore.query_sqlite import Compiler
from soc_api.search.alert_sql import alert_schema, ipv4_prefixes, to_sql


def test_terms_operators_and_grouping() -> None:
    node = parse("a:1 AND (b:2 OR NOT c:3) d:4")
    assert isinstance(node, Both)
    first, group, last = node.parts
    assert first == Term("a", "1", False, 1)
    assert isinstance(group, Either) and isinstance(group.parts[1], Negation)
    assert last == Term("d", "4", False, 26)


def test_lowercase_operators_and_words_that_start_like_them() -> None:
    node = parse("android and order or notes")
    assert node == Either(
        (
            Both((Term(None, "android", False, 1), Term(None, "order", False, 13))),
            Term(None, "notes", False, 22),
        )
    )


def test_ranges_comparisons_and_open_ends() -> None:
    assert parse("destination.port:[1 TO 1024]") == Span(
        "destination.port", "1", "1024", True, True, 1
    )
    assert parse("x:{1 TO *]") == Span("x", "1", None, False, True, 1)
    assert parse("@timestamp:>=2026-11-20") == Span("@timestamp", "2026-11-20", None, True, True, 1)
    assert parse("x:<5") == Span("x", None, "5", True, False, 1)


def test_phrases_escapes_addresses_and_value_lists() -> None:
    assert parse(r'user.name:"Nguyễn \"A\" \\ B"') == Term("user.name", 'Nguyễn "A" \\ B', True, 1)
    assert parse("source.ip:2001:db8::1") == Term("source.ip", "2001:db8::1", False, 1)
    assert parse("source.ip:10.20.0.0/16") == Term("source.ip", "10.20.0.0/16", False, 1)
    choice = parse("severity:(high critical)")
    assert choice == Either(
        (Term("severity", "high", False, 1), Term("severity", "critical", False, 1))
    )


def test_an_empty_query_is_none() -> None:
    assert parse("") is None
    assert parse("   ") is None
    assert compile_query(None, event_schema()) is None


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("source.ip:", 11, "ends too early"),
        ("(a OR b", 8, "ends too early"),
        ("a OR", 5, "ends too early"),
        ("destination.port:[1 TO", 23, "ends too early"),
        ('user.name:"open', 11, "never closed"),
        (")", 1, "unexpected ')'"),
        ("host.name:]", 11, "unexpected"),
        ("x:[1 1024]", 6, "expected TO"),
    ],
)
def test_syntax_errors_name_the_column(text: str, column: int, says: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert error.location is not None and error.location.column == column
    assert says in error.message and f"column {column}" in error.message
    assert pointer(text, error).splitlines()[1] == " " * (column - 1) + "^"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sorce.ip:10.0.0.1", "unknown field 'sorce.ip' for events; did you mean source.ip"),
        ("source.ip:cam-01", "source.ip takes an address or a network"),
        ("destination.port:http", "destination.port takes a number"),
        ("destination.port:1e999", "out of range"),
        ("@timestamp:yesterday", "takes a time such as 2026-11-20"),
        ("host.name:[a TO b]", "ranges do not apply"),
        ("network.transport:>5", "ranges do not apply"),
    ],
)
def test_values_are_checked_against_their_field(text: str, says: str) -> None:
    with pytest.raises(QueryError, match="column 1") as caught:
        compile_query(text, event_schema())
    assert says in caught.value.message


def test_limits_are_errors_not_crashes() -> None:
    with pytest.raises(QueryError, match="nest deeper"):
        parse("(" * 30 + "a" + ")" * 30)
    with pytest.raises(QueryError, match="longer than"):
        parse("a " * 1500)
    with pytest.raises(QueryError, match="more than 200 terms"):
        parse(" ".join(f"t{n}" for n in range(201)))


def test_binding_to_the_ecs_fields() -> None:
    schema = event_schema()
    port = schema.fields["destination.port"]
    assert compile_query("destination.port:[1 TO 1024]", schema) == Between(port, 1, 1024)
    ip = schema.fields["source.ip"]
    assert compile_query("source.ip:10.20.0.0/16", schema) == InNetwork(
        ip, ipaddress.ip_network("10.20.0.0/16")
    )
    assert compile_query("source.ip:2001:DB8::1", schema) == Equals(ip, "2001:db8::1")
    host = schema.fields["host.name"]
    assert compile_query("host.name:cam-*", schema) == Wildcard(host, "cam-*")
    assert compile_query('host.name:"cam-*"', schema) == Equals(host, "cam-*")
    assert compile_query("host.name:*", schema) == Exists(host)
    message = schema.fields["message"]
    assert compile_query('"Failed password"', schema) is not None
    assert compile_query("message:refused", schema) == Contains(message, "refused")
    assert compile_query("agency:d1", schema) == Equals(schema.fields["organization.id"], "d1")


def test_days_mean_whole_days_in_utc() -> None:
    schema = event_schema()
    ts = schema.fields["@timestamp"]
    day, next_day = "2026-11-20T00:00:00.000Z", "2026-11-21T00:00:00.000Z"
    assert compile_query("@timestamp:2026-11-20", schema) == Between(ts, day, next_day, True, False)
    assert compile_query("@timestamp:<=2026-11-20", schema) == Between(
        ts, None, next_day, True, False
    )
    assert compile_query("@timestamp:>2026-11-20", schema) == Between(ts, next_day, None)
    assert compile_query("@timestamp:>=2026-11-20T09:30:00+07:00", schema) == Between(
        ts, "2026-11-20T02:30:00.000Z", None
    )


def test_a_bare_value_searches_the_fields_that_can_hold_it() -> None:
    schema = event_schema()
    address = compile_query("203.0.113.77", schema)
    assert isinstance(address, AnyOf)
    names = {p.field.name for p in address.parts if not isinstance(p, AllOf | AnyOf | Not)}
    assert {"source.ip", "destination.ip", "related.ip", "message"} <= names
    assert "host.name" not in names  # an address is not looked for among host names
    word = compile_query("cam-q1-0011", schema)
    assert isinstance(word, AnyOf)
    assert "source.ip" not in {p.field.name for p in word.parts}  # type: ignore[union-attr]


def test_alert_fields_and_aliases() -> None:
    schema = alert_schema()
    assert compile_query("rule.name:x", schema) == compile_query("rule_name:x", schema)
    with pytest.raises(QueryError, match=r"unknown field 'source\.ip' for alerts"):
        compile_query("source.ip:10.0.0.1", schema)
    targets = schema.fields["targets"]
    assert compile_query("targets:10.20.0.0/16", schema) == InNetwork(
        targets, ipaddress.ip_network("10.20.0.0/16")
    )


def test_ipv4_networks_as_text_prefixes() -> None:
    assert ipv4_prefixes(ipaddress.IPv4Network("10.20.0.0/16")) == ["10.20."]
    assert ipv4_prefixes(ipaddress.IPv4Network("10.20.16.0/20")) == [
        f"10.20.{n}." for n in range(16, 32)
    ]
    assert ipv4_prefixes(ipaddress.IPv4Network("10.20.1.4/30")) == [
        f"10.20.1.{n}" for n in range(4, 8)
    ]
    assert ipv4_prefixes(ipaddress.IPv4Network("10.20.1.5/32")) == ["10.20.1.5"]
    assert ipv4_prefixes(ipaddress.IPv4Network("0.0.0.0/0")) == [""]


# -- properties ------------------------------------------------------------------------------

EVENT_FIELDS = ["source.ip", "destination.port", "host.name", "@timestamp", "related.ip",
                "event.category", "message", "network.transport", "dns.answers.data"]  # fmt: skip
ALERT_FIELDS = ["rule_name", "risk_score", "targets", "attacker", "last_seen", "title", "status"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "10.20.0.0/16",
            "203.0.113.77",
            "2001:db8::/32",
            "cam-*",
            "80",
            "x?z",
            "2026-11-20",
            "true",
            "*",
            "ip:10.0.0.1",
            "network",
            "1e3",
        ]
    ),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12),
)


def _value(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def queries(fields: list[str]) -> st.SearchStrategy[str]:
    term = st.builds(lambda f, v: f"{f}:{_value(v)}", st.sampled_from(fields), VALUES)
    bare_term = st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(fields), VALUES.filter(
        lambda v: v.strip() and not any(c in v for c in ' ()[]{}"<>=\t\n\r\x0b\x0c')))  # fmt: skip
    span = st.builds(
        lambda f, a, b, lo, hi: f"{f}:{lo}{a} TO {b}{hi}",
        st.sampled_from(fields), st.sampled_from(["1", "*", "2026-11-20", "x"]),
        st.sampled_from(["1024", "*", "2026-11-21T00:00:00Z"]), st.sampled_from("[{"),
        st.sampled_from("]}"),
    )  # fmt: skip
    leaf = st.one_of(term, bare_term, span, VALUES.map(_value))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(
                lambda a, b, op: f"{a} {op} {b}",
                inner,
                inner,
                st.sampled_from(["AND", "OR", "and", ""]),
            ),
            inner.map(lambda q: f"NOT ({q})"),
        ),
        max_leaves=8,
    )


def _compile_everywhere(text: str, *, alerts: bool) -> None:
    condition = compile_query(text, alert_schema() if alerts else event_schema())
    if condition is None:
        return
    if alerts:
        for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
            str(to_sql(condition, dialect=name).compile(dialect=dialect))
        return
    columns = {f.lower(): f for f in EVENT_FIELDS}
    Compiler(columns, {}).where(condition)
    to_dsl(condition)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_a_query_or_a_query_error(text: str) -> None:
    for alerts in (False, True):
        try:
            _compile_everywhere(text, alerts=alerts)
        except QueryError as exc:
            assert exc.location is not None and exc.location.column is not None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab:() []{}"*?\\<>=TOANDORNOT-./0123456789', max_size=60))
def test_query_shaped_noise_gives_a_query_or_a_query_error(text: str) -> None:
    for alerts in (False, True):
        with contextlib.suppress(QueryError):
            _compile_everywhere(text, alerts=alerts)


@settings(max_examples=200, deadline=None)
@given(queries(EVENT_FIELDS))
def test_well_formed_event_queries_compile_or_name_a_wrong_value(text: str) -> None:
    assert parse(text) is not None
    try:
        _compile_everywhere(text, alerts=False)
    except QueryError as exc:
        assert "column" in exc.message and "ends too early" not in exc.message


@settings(max_examples=100, deadline=None)
@given(queries(ALERT_FIELDS))
def test_well_formed_alert_queries_compile_or_name_a_wrong_value(text: str) -> None:
    assert parse(text) is not None
    try:
        _compile_everywhere(text, alerts=True)
    except QueryError as exc:
        assert "ends too early" not in exc.message


def test_the_engine_dsl_of_each_form() -> None:
    schema = event_schema()

    def dsl(text: str) -> object:
        return to_dsl(compile_query(text, schema))

    assert dsl("source.ip:10.20.0.0/16") == {"term": {"source.ip": {"value": "10.20.0.0/16"}}}
    assert dsl("host.name:CAM-*") == {
        "wildcard": {"host.name": {"value": "cam-*", "case_insensitive": True}}
    }
    assert dsl("destination.port:[1 TO 1024}") == {
        "range": {"destination.port": {"gte": 1, "lt": 1024}}
    }
    assert dsl("@timestamp:>=2026-11-20") == {
        "range": {
            "@timestamp": {"gte": "2026-11-20T00:00:00.000Z", "format": "strict_date_optional_time"}
        }
    }
    assert dsl("NOT event.category:network") == {
        "bool": {
            "must_not": [
                {"term": {"event.category": {"value": "network", "case_insensitive": True}}}
            ]
        }
    }
    assert dsl('message:"a*b"') == {
        "wildcard": {"message": {"value": "*a\\*b*", "case_insensitive": True}}
    }
    assert dsl("destination.port:22 OR destination.port:23")["bool"]["minimum_should_match"] == 1  # type: ignore[index]
    assert to_dsl(None) == {"match_all": {}}
