"""Fuzzing what reaches the SOC API from outside: IOC feeds (CSV, STIX 2.1), ingest lines,
and the rule loader. Budget and the nightly run: see this folder's conftest."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysoc.core.errors import CitysocError
from detections.engine.catalog import parse_rule_text, rule_folders
from soc_api.ingest.service import parse_body
from soc_api.iocs.formats import read_csv, read_stix
from soc_api.iocs.models import IocCreate, Tlp

FUZZ = settings(
    deadline=None,  # timed by within_budget: the minimum of three runs
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CSV_SEEDS = [
    b"kind,value,tlp,severity,description\nip,203.0.113.50,RED,high,brute forcer\n"
    b'domain,bad.example,GREEN,medium,"quoted, with comma"\n',
    b"kind,value\nsha256," + b"a" * 64 + b"\nurl,http://bad.example/x?y=1\n",
]
STIX_SEEDS = [
    json.dumps(
        {
            "type": "bundle",
            "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": [
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                    "created": "2026-11-01T00:00:00.000Z",
                    "modified": "2026-11-01T00:00:00.000Z",
                    "name": "camera brute forcer",
                    "pattern": "[ipv4-addr:value = '203.0.113.50']",
                    "pattern_type": "stix",
                    "valid_from": "2026-11-01T00:00:00Z",
                    "object_marking_refs": [
                        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
                    ],
                }
            ],
        }
    ).encode()
]
INGEST_SEEDS = [
    b'{"@timestamp": "2026-11-21T05:00:00Z", "source.ip": "198.51.100.9", '
    b'"destination": {"ip": "10.31.0.21", "port": 554}, "rtsp.response.status_code": 401}\n'
    b'{"@timestamp": "2026-11-21T05:00:01.5+07:00", "event": {"action": "x", "id": "abc"}, '
    b'"tags": ["a", "b"], "n": 1.5e300}\n',
]
RULE_SEEDS = [(folder / "rule.yml").read_bytes() for folder in list(rule_folders())[:12]]


T = TypeVar("T")
BUDGET = 0.1  # seconds one input may take


def within_budget(call: Callable[[], T]) -> T:
    """``call()``, failing if it takes over :data:`BUDGET` on each of three tries: a busy
    machine can slow one run down, never three in a row by the same much."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
        if best <= BUDGET:
            return result
    raise AssertionError(f"one input took {best * 1000:.0f} ms, over {BUDGET * 1000:.0f} ms")


REPEAT = 16 * 1024  # a quadratic step takes seconds at this size; linear work, milliseconds


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], repeat: int = REPEAT) -> bytes:
    """A seed with a few byte-level edits: flips, inserts, deletions, a slice repeated
    (up to 16 KiB, to find work that grows faster than the input), interesting bytes."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "special"]))
        if edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif edit == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 16))]) or b"A"
            times = draw(st.integers(2, repeat // len(piece)))
            data[at:at] = piece * times
        else:
            data[at:at] = draw(
                st.sampled_from(
                    [b"\r", b"\x00", b"\\ud800", b'"', b"\n", b"\xff\xfe", b"[" * 64, b"9" * 5000]
                )
            )
    return bytes(data)


@FUZZ
@given(mutated(CSV_SEEDS))
def test_ioc_csv(body: bytes) -> None:
    try:
        text = body.decode("utf-8", "replace")
        items = within_budget(lambda: list(read_csv(text, default_tlp=Tlp.AMBER)))
    except CitysocError:
        return  # a refused header: the API answers 422
    for position, item in items:
        assert isinstance(position, int) and isinstance(item, IocCreate | str)


@FUZZ
@given(mutated(STIX_SEEDS))
def test_ioc_stix(body: bytes) -> None:
    try:
        text = body.decode("utf-8", "replace")
        items = within_budget(lambda: list(read_stix(text, default_tlp=Tlp.AMBER)))
    except CitysocError:
        return
    for position, item in items:
        assert isinstance(position, int) and isinstance(item, IocCreate | str)


@FUZZ
@given(mutated(INGEST_SEEDS))
def test_ingest_lines(body: bytes) -> None:
    parsed = within_budget(lambda: parse_body(body.splitlines()))
    for _line, event in parsed.events:
        json.dumps(event, ensure_ascii=False).encode("utf-8")  # storable: valid Unicode
        assert isinstance(event["event.id"], str) and event["event.id"]
    assert parsed.rejected == len(parsed.errors)


@FUZZ
@given(mutated(RULE_SEEDS, repeat=4096))  # pure-Python YAML: about 1 ms a KiB
def test_rule_loader(text: bytes) -> None:
    with contextlib.suppress(CitysocError):  # a refused rule: named with its file
        rule = text.decode("utf-8", "replace")
        within_budget(lambda: parse_rule_text(rule, Path("fuzz/rule.yml")))
