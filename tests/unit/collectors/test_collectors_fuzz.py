"""Property tests: the line parsers never raise and always give flat events whose values are
scalars, except arrays and objects where ECS defines the field as one."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st

from citysoc.core.ecs_reference import reference
from citysoc.core.errors import Location
from collectors.sources.eve import parse_eve_line
from collectors.sources.syslog import parse_syslog
from collectors.stats import CollectorStats

HERE = Location("fuzz", line=1)
SCALARS = (str, int, float, bool)


def flat(event: dict[str, object]) -> bool:
    """Scalars, but lists in ECS array fields and objects of scalars in ECS object fields."""
    ref = reference()
    for name, value in event.items():
        spec = ref.spec(name)
        if isinstance(value, list):
            items = value
            if spec is None or not spec.array:
                return False
        elif isinstance(value, dict):
            items = [value]
            if spec is None or spec.type not in ("object", "flattened"):
                return False
        else:
            items = [value]
        for item in items:
            inner = item.values() if isinstance(item, dict) else [item]
            if not all(isinstance(v, (*SCALARS, dict)) for v in inner):
                return False
    return True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
eve_records = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(
            [
                "2026-11-20T02:03:10.123456+0000",
                "0001-01-01T00:00:00+1400",
                "bad",
                "9999-12-31T23:59:59-1200",
            ]
        ),
        "event_type": st.sampled_from(
            ["alert", "flow", "dns", "http", "tls", "fileinfo", "anomaly", "stats", "x"]
        ),
    },
    optional={
        "src_ip": json_values,
        "src_port": json_values,
        "proto": json_values,
        "alert": json_values,
        "flow": json_values,
        "dns": json_values,
        "http": json_values,
        "tls": json_values,
        "fileinfo": json_values,
        "stats": json_values,
        "vlan": json_values,
    },
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_parse_syslog_never_raises(message: str | bytes) -> None:
    event = parse_syslog(message, HERE, CollectorStats(), received=1795658400.0)
    assert isinstance(event["event.original"], str)
    assert flat(event)
    json.dumps(event)


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=200))
def test_parse_syslog_headers_never_raise(body: str) -> None:
    for prefix in ("<38>1 2026-11-20T02:00:00Z h sshd 1 - - ", "<999>Feb 29 02:00:00 h kernel: "):
        event = parse_syslog(prefix + body, HERE, CollectorStats(), received=1795658400.0)
        assert flat(event)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=300))
def test_parse_eve_line_never_raises_on_text(line: str) -> None:
    event = parse_eve_line(line, HERE, CollectorStats())
    assert event is None or flat(event)


@settings(max_examples=300, deadline=None, database=None)
@given(eve_records)
def test_parse_eve_line_never_raises_on_records(record: dict[str, object]) -> None:
    stats = CollectorStats()
    event = parse_eve_line(json.dumps(record), HERE, stats)
    if event is None:
        assert sum(stats.errors.values()) == 1
    else:
        assert flat(event)
        assert event["event.module"] == "suricata"
