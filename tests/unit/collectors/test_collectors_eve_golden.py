"""EVE parsing gives exactly the events it gave before its fast paths were written.

``eve_golden/`` was produced by the parser before it was tuned: the bundled sample's events in
full, and for 2,000 benchmark lines plus hand-made edge cases (odd zones, leap days, deep and
null values, wrong types) the SHA-256 of each event's sorted JSON, ``null`` where the line was
refused, and the counters. Any changed field, type or event id fails here.

It was made again once, on purpose, when the fields Elastic's integration renames stopped being
kept twice (``eve.MOVED``); every event was then checked against the parser before: the same
fields, values and types, less only ``suricata.eve.*`` keys in ``MOVED``. And once more when
event ids began with the event's time (``ecs.event_id(..., at=)``): every event was the same as
before but for its ``event.id``, which the old formula gave exactly. And once more for ECS
fidelity (``event.category``/``event.type``, ``dns.resolved_ip`` and ``threat.*`` as arrays;
MACs, certificate serials and validity times in ECS form; ``observer.*``, ``related.*``,
``dns.answers``, ``dns.header_flags``, ``dns.question.*`` domain parts, ``tls.server.x509.*``,
and the Community ID where Suricata wrote none): every event was compared with the parser
before, and differed only in those fields; a certificate time that is not a time ("2020") is
no longer copied to ``tls.server.not_before`` (it stays under ``suricata.eve.tls``), and
``event.duration`` is counted in whole microseconds, EVE's precision (it was up to 116 ns off);
a value of the wrong type for its ECS field (a port ``false``, a byte count ``3.5``, a file name
``3``) stays under ``suricata.eve.*`` instead of reaching the ECS field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from citysoc.core import ecs
from citysoc.core.errors import Location
from collectors import SAMPLES
from collectors.sources import eve
from collectors.stats import CollectorStats

GOLDEN = Path(__file__).with_name("eve_golden")
SAMPLE = SAMPLES / "eve.json"


def digest(event: object) -> str | None:
    if event is None:
        return None
    return hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()


def test_bundled_sample_events_are_unchanged() -> None:
    expected = json.loads((GOLDEN / "expected_sample.json").read_text())
    events = list(eve.read_eve(SAMPLE, CollectorStats()))
    assert len(events) == len(expected) == 13
    for got, want in zip(events, expected, strict=True):
        assert json.loads(json.dumps(got, sort_keys=True)) == want
        assert [type(v) for _, v in sorted(got.items())] == [
            type(v) for _, v in sorted(want.items())
        ]


def test_one_update_id_is_the_ecs_event_id() -> None:
    cases = ((1_763_600_000.5, 1_000_000_001, '{"a":"é"}'), (0.0, "", "x"), (-1.0, 2.5, "\x1f"))
    for at, flow_id, line in cases:
        want = ecs.event_id("suricata.eve", flow_id, line, at=at)
        assert eve.eve_event_id(at, flow_id, line) == want


def test_benchmark_and_edge_lines_give_the_same_events() -> None:
    expected = json.loads((GOLDEN / "expected_digests.json").read_text())
    stats = CollectorStats()
    with gzip.open(GOLDEN / "input.jsonl.gz") as lines:
        got = [
            digest(eve.parse_eve_bytes(raw, Location("golden", line=n), stats))
            for n, raw in enumerate(lines, start=1)
        ]
    assert len(got) == len(expected["digests"]) > 2000
    pairs = zip(got, expected["digests"], strict=True)
    changed = [n for n, (now, before) in enumerate(pairs, start=1) if now != before]
    assert changed == []
    assert (stats.events, stats.parsed) == (expected["events"], expected["parsed"])
    assert dict(stats.errors) == expected["errors"]
