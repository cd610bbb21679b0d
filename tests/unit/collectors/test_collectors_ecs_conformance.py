"""ECS conformance: every field every collector emits, against the ECS field reference.

``citysoc/core/ecs_fields.yml`` holds the ECS 8.11 fields citysoc emits, with their types and
the allowed values of the categorization fields, and the namespaces where other names may live.
Checked here: the EVE, syslog, packet and file collectors on the bundled samples (enriched, as
they are stored), the EVE parser on its golden edge cases, and hand-written EVE records and
syslog lines (``ecs_fixtures/``, written from Suricata's EVE format and the ECS field reference)
against the ECS documents they must give.
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from citysoc.core.ecs import Event, nest
from citysoc.core.ecs_reference import Reference, problems, reference
from citysoc.core.errors import Location
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors import SAMPLES
from collectors.enrich import enricher_for
from collectors.packets.pcap import read_pcap
from collectors.sources.eve import parse_eve_bytes, parse_eve_line, read_eve
from collectors.sources.files import YaraRules, scan_file
from collectors.sources.syslog import parse_syslog, read_syslog_file
from collectors.stats import CollectorStats
from scenarios import windowscraft
from scenarios.packetcraft import Capture, Turn, tcp_conversation

HERE = Path(__file__).parent
FIXTURES = HERE / "ecs_fixtures"
YARA = HERE.parents[2] / "detections" / "yara"
RECEIVED = datetime(2026, 11, 20, 3, 0, tzinfo=UTC).timestamp()
AT = Location("fixture", line=1)


def nonconforming(events: Iterable[Event]) -> tuple[int, dict[str, str]]:
    """How many events were checked, and the first problem of each kind found."""
    found: dict[str, str] = {}
    count = 0
    for event in events:
        count += 1
        for problem in problems(event):
            found.setdefault(problem.split(":")[0], f"{problem} in {event.get('event.id')}")
    return count, found


def enriched(events: Iterator[Event]) -> Iterator[Event]:
    enrich = enricher_for(BUNDLED_TOPOLOGY, "dic")
    return (enrich(event) for event in events)


def test_the_reference_is_ecs_811_and_declares_its_namespaces() -> None:
    ref = reference()
    assert ref.version == "8.11"
    assert {"suricata", "citysoc"} <= set(ref.namespaces)
    assert ref.spec("event.category") is not None and ref.spec("event.category").array
    assert ref.array_of("dns.answers.data") == ("dns.answers", "data")
    assert ref.array_of("source.ip") is None
    assert ref.expected_types["authentication"] == {"start", "end", "info"}


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ({"sourceip": "10.0.0.1"}, "not an ECS field"),
        ({"source.ip": "10.0.0.300"}, "not a valid ip"),
        ({"source.port": "80"}, "not a valid long"),
        ({"source.port": True}, "not a valid long"),
        ({"tls.resumed": 1}, "not a valid boolean"),
        ({"@timestamp": "2026-11-20T02:00:00"}, "not a valid date"),
        ({"event.kind": "incident"}, "not among the values"),
        ({"event.category": ["network", "camera"]}, "not among the values"),
        ({"event.outcome": "ok"}, "not among the values"),
        ({"event.category": ["authentication"], "event.type": ["connection"]}, "fits none"),
        ({"source.ip": ["10.0.0.1"]}, "an array"),
        ({"log.syslog.structured_data": "[a b]"}, "not a valid flattened"),
    ],
)
def test_the_check_catches_what_ecs_does_not_allow(event: Event, complaint: str) -> None:
    assert any(complaint in problem for problem in problems(event)), problems(event)


def test_declared_namespaces_take_any_name() -> None:
    assert problems({"suricata.eve.anything.at.all": 1, "citysoc.segment": "cam-d1"}) == []


def test_eve_sample_conforms() -> None:
    count, found = nonconforming(enriched(read_eve(SAMPLES / "eve.json", CollectorStats())))
    assert count == 13 and found == {}


def test_eve_golden_edge_cases_conform() -> None:
    """Wrong types, odd zones, deep and null values: what does not fit an ECS field stays
    under ``suricata.eve.*``."""
    stats = CollectorStats()
    with gzip.open(HERE / "eve_golden" / "input.jsonl.gz") as lines:
        events = [parse_eve_bytes(raw, AT, stats) for raw in lines]
    count, found = nonconforming(e for e in events if e is not None)
    assert count > 2000 and found == {}


def test_syslog_sample_conforms() -> None:
    events = read_syslog_file(SAMPLES / "syslog.log", CollectorStats(), received=RECEIVED)
    count, found = nonconforming(enriched(events))
    assert count == 23 and found == {}


@pytest.mark.parametrize("capture", sorted(SAMPLES.glob("*.pcap")), ids=lambda p: p.name)
def test_packet_engine_sample_conforms(capture: Path) -> None:
    count, found = nonconforming(enriched(read_pcap(capture, CollectorStats())))
    assert count > 20 and found == {}


def test_smb_and_rdp_session_events_conform(tmp_path: Path) -> None:
    """SMB (NTLM, Kerberos, SMB1) and RDP (standard security, CredSSP) sessions,
    crafted from their specifications, as the packet engine reports them."""
    cap, rng, guid = Capture(), random.Random(4), uuid.UUID(int=7)
    offer = windowscraft.negotiate_request([0x0302, 0x0311], client_guid=guid, ciphers=(2,))
    answer = windowscraft.negotiate_response(0x0311, server_guid=guid, signing_required=True)
    ntlm = windowscraft.ntlm_authenticate("op", "HCMC", "IOC-01")
    ticket = windowscraft.kerberos_ap_req("HCMC.EXAMPLE", ["cifs", "fs.hcmc.example"])
    sessions: list[tuple[int, list[Turn]]] = [
        (445, [("c", offer), ("s", answer), ("c", windowscraft.session_setup_request(ntlm)),
               ("s", windowscraft.session_setup_response(0xC000006D))]),
        (445, [("c", offer), ("s", answer),
               ("c", windowscraft.session_setup_request(windowscraft.spnego_kerberos(ticket))),
               ("s", windowscraft.session_setup_response(0))]),
        (445, [("c", windowscraft.smb1_negotiate_request(["NT LM 0.12"])),
               ("s", windowscraft.smb1_negotiate_response(0))]),
    ]  # fmt: skip
    sessions = [
        (port, [(d, windowscraft.netbios(m)) for d, m in turns]) for port, turns in sessions
    ]
    sessions.append((3389, [("c", windowscraft.connection_request(cookie="op", protocols=0)),
                            ("s", windowscraft.connection_confirm(selected=0)),
                            ("c", windowscraft.mcs_connect_initial("WS-01"))]))  # fmt: skip
    sessions.append((3389, [("c", windowscraft.connection_request(cookie="HCMC\\op")),
                            ("s", windowscraft.connection_confirm())]))  # fmt: skip
    for n, (port, turns) in enumerate(sessions):
        cap.add(tcp_conversation(("10.20.0.40", 50200 + n), ("10.10.1.5", port),
                                 RECEIVED + n, turns, rng=rng))  # fmt: skip
    cap.write(tmp_path / "windows.pcap")
    events = list(enriched(read_pcap(tmp_path / "windows.pcap", CollectorStats())))
    datasets = [e["event.dataset"] for e in events if e["event.dataset"] != "network_traffic.flow"]
    assert sorted(datasets) == ["network_traffic.rdp"] * 2 + ["network_traffic.smb"] * 3
    assert nonconforming(events) == (len(events), {})


def test_file_collector_conforms() -> None:
    rules = YaraRules(YARA)
    samples = sorted(p for p in YARA.rglob("*") if p.is_file() and p.parent.name == "match")
    events = [scan_file(path, rules, CollectorStats()) for path in samples]
    count, found = nonconforming(e for e in events if e is not None)
    assert count == len(samples) > 5 and found == {}
    assert any(e is not None and e["event.kind"] == "alert" for e in events)


def ecs_document(event: Event, ref: Reference) -> dict[str, Any]:
    """The ECS part of an event, nested: what an Elastic user sees (``suricata.*`` aside)."""
    kept = {
        name: value
        for name, value in event.items()
        if name not in ("event.original", "event.id") and not name.startswith("suricata.")
    }
    assert all(ref.spec(name) or ref.declared(name) for name in kept)
    return nest(kept)


EVE_CASES = json.loads((FIXTURES / "eve.json").read_text(encoding="utf-8"))
SYSLOG_CASES = json.loads((FIXTURES / "syslog.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", EVE_CASES, ids=[c["name"] for c in EVE_CASES])
def test_eve_records_give_their_ecs_documents(case: dict[str, Any]) -> None:
    event = parse_eve_line(json.dumps(case["eve"]), AT, CollectorStats())
    assert event is not None
    assert problems(event) == []
    assert ecs_document(event, reference()) == case["ecs"]


@pytest.mark.parametrize("case", SYSLOG_CASES, ids=[c["name"] for c in SYSLOG_CASES])
def test_syslog_lines_give_their_ecs_documents(case: dict[str, Any]) -> None:
    event = parse_syslog(case["line"], AT, CollectorStats(), received=RECEIVED)
    assert problems(event) == []
    assert ecs_document(event, reference()) == case["ecs"]
