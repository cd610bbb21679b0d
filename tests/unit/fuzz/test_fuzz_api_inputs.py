"""Fuzzing what reaches the SOC API from outside: IOC feeds (CSV, STIX 2.1), ingest lines,
and the rule loader. Budget and the nightly run: see this folder's conftest."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import given

from citysoc.core.errors import CitysocError
from detections.engine.catalog import parse_rule_text, rule_folders
from soc_api.ingest.service import MAX_REPORTED_ERRORS, parse_body
from soc_api.iocs.formats import read_csv, read_stix
from soc_api.iocs.models import IocCreate, Tlp
from tests.unit.fuzz.mutation import FUZZ, mutated, within_budget

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
    assert len(parsed.errors) == min(parsed.rejected, MAX_REPORTED_ERRORS)  # the report is bounded


@FUZZ
@given(mutated(RULE_SEEDS, repeat=4096))  # pure-Python YAML: about 1 ms a KiB
def test_rule_loader(text: bytes) -> None:
    with contextlib.suppress(CitysocError):  # a refused rule: named with its file
        rule = text.decode("utf-8", "replace")
        within_budget(lambda: parse_rule_text(rule, Path("fuzz/rule.yml")))
