"""EVE records mapped as Elastic's Suricata integration maps them (Suricata 7 records)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from citysoc.core.errors import Location
from collectors.sources.eve import parse_eve_bytes, parse_eve_line
from collectors.stats import CollectorStats

HERE = Location("test", line=1)
FLOW = {
    "src_ip": "10.20.0.10",
    "src_port": 51000,
    "dest_ip": "10.10.0.20",
    "dest_port": 443,
    "proto": "TCP",
    "flow_id": 77,
    "community_id": "1:abc=",
    "ether": {"src_mac": "02:00:00:00:00:01", "dest_mac": "02:00:00:00:00:02"},
}


def parse(event_type: str, **record: object) -> dict[str, object]:
    line = json.dumps(
        {"timestamp": "2026-11-20T02:00:00.000000+0000", "event_type": event_type, **FLOW, **record}
    )
    event = parse_eve_line(line, HERE, CollectorStats())
    assert event is not None
    return event


def test_alert_with_mitre_metadata() -> None:
    event = parse(
        "alert",
        app_proto="http",
        alert={
            "action": "blocked",
            "signature_id": 2034125,
            "signature": "ET EXPLOIT x",
            "category": "A",
            "severity": 1,
            "metadata": {"mitre_tactic_id": ["TA0001"], "mitre_technique_id": ["T1190"]},
        },
    )
    assert (event["event.kind"], event["event.category"], event["event.type"]) == (
        "alert",
        ["network", "intrusion_detection"],
        ["denied"],
    )
    assert (event["rule.id"], event["rule.name"], event["event.severity"]) == (
        "2034125",
        "ET EXPLOIT x",
        1,
    )
    assert (event["threat.tactic.id"], event["threat.technique.id"]) == (["TA0001"], ["T1190"])
    assert event["network.protocol"] == "http" and event["source.mac"] == "02-00-00-00-00-01"
    assert event["source.address"] == "10.20.0.10" and event["network.community_id"] == "1:abc="


def test_flow_start_and_end() -> None:
    flow = {
        "pkts_toserver": 3,
        "pkts_toclient": 2,
        "bytes_toserver": 300,
        "bytes_toclient": 200,
        "start": "2026-11-20T02:00:00.000000+0000",
        "end": "2026-11-20T02:00:01.500000+0000",
    }
    closed = parse("flow", flow={**flow, "state": "closed"})
    assert (closed["event.category"], closed["event.type"]) == (["network"], ["connection", "end"])
    assert (closed["network.bytes"], closed["network.packets"], closed["event.duration"]) == (
        500,
        5,
        1_500_000_000,
    )
    assert parse("flow", flow={**flow, "state": "new"})["event.type"] == ["connection", "start"]


def test_http_outcome_domain_and_url_parts() -> None:
    event = parse(
        "http",
        http={
            "hostname": "portal.example",
            "url": "/a?b=1#c",
            "status": 404,
            "http_method": "GET",
            "protocol": "HTTP/1.1",
        },
    )
    assert (event["event.category"], event["event.type"], event["event.outcome"]) == (
        ["network", "web"],
        ["access", "protocol"],
        "failure",
    )
    assert (
        event["destination.domain"],
        event["url.path"],
        event["url.query"],
        event["url.fragment"],
    ) == ("portal.example", "/a", "b=1", "c")
    assert event["network.protocol"] == "http" and event["http.version"] == "1.1"


def test_dns_tls_fileinfo_anomaly_stats() -> None:
    dns = parse(
        "dns",
        dns={
            "type": "answer",
            "id": 1,
            "rrname": "a.example",
            "rrtype": "A",
            "rcode": "NOERROR",
            "answers": [{"rrtype": "A", "rdata": "10.1.1.1"}],
        },
    )
    assert (dns["event.type"], dns["network.protocol"], dns["dns.resolved_ip"]) == (
        ["protocol"],
        "dns",
        ["10.1.1.1"],
    )
    tls = parse("tls", tls={"sni": "portal.example", "version": "TLS 1.3", "ja3": {"hash": "abc"}})
    assert (tls["tls.version"], tls["tls.version_protocol"], tls["tls.client.ja3"]) == (
        "1.3",
        "tls",
        "abc",
    )
    assert tls["network.protocol"] == "tls" and tls["event.type"] == ["protocol"]
    ja4 = "t13d0811h1_e1fae654ade7_095aa073dcf2"
    assert parse("tls", tls={"ja4": ja4})["citysoc.tls.client.ja4"] == ja4
    assert "citysoc.tls.client.ja4" not in parse("tls", tls={"ja4": ["not", "a", "string"]})
    fileinfo = parse(
        "fileinfo", fileinfo={"filename": "/fw/update.bin", "size": 10, "sha256": "ff"}
    )
    assert (fileinfo["file.path"], fileinfo["file.name"], fileinfo["file.hash.sha256"]) == (
        "/fw/update.bin",
        "update.bin",
        "ff",
    )
    assert (
        parse("anomaly", anomaly={"type": "decode", "event": "ipv4.trunc_pkt"})["message"]
        == "ipv4.trunc_pkt"
    )
    stats = parse("stats", stats={"uptime": 10, "capture": {"kernel_packets": 5}})
    assert (stats["event.kind"], stats["suricata.eve.stats.capture.kernel_packets"]) == (
        "metric",
        5,
    )


def test_a_line_without_newline_from_a_follower_still_parses() -> None:
    stats = CollectorStats()
    raw = json.dumps(
        {"timestamp": "2026-11-20T02:00:00+00:00", "event_type": "ssh", **FLOW}
    ).encode()
    event = parse_eve_bytes(raw, HERE, stats)
    assert event is not None and event["network.protocol"] == "ssh"
    assert (stats.received, stats.events) == (1, 1)


MOVED_TO = {  # where Elastic's integration renames each EVE key: written out again, on purpose
    "src_ip": "source.ip",
    "src_port": "source.port",
    "dest_ip": "destination.ip",
    "dest_port": "destination.port",
    "proto": "network.transport",
    "timestamp": "@timestamp",
    "ether.src_mac": "source.mac",
    "ether.dest_mac": "destination.mac",
    "flow.pkts_toserver": "source.packets",
    "flow.pkts_toclient": "destination.packets",
    "flow.bytes_toserver": "source.bytes",
    "flow.bytes_toclient": "destination.bytes",
    "flow.start": "event.start",
    "flow.end": "event.end",
    "http.hostname": "url.domain",
    "http.url": "url.original",
    "http.status": "http.response.status_code",
    "http.length": "http.response.body.bytes",
    "http.http_method": "http.request.method",
    "http.http_user_agent": "user_agent.original",
    "http.http_refer": "http.request.referrer",
    "fileinfo.filename": "file.path",
    "fileinfo.size": "file.size",
    "alert.action": "event.action",
    "alert.severity": "event.severity",
}
SAME_AFTER = {  # the others are copied as they are, times reformatted
    "proto": str.lower,
    "ether.src_mac": lambda v: v.replace(":", "-").upper(),  # ECS writes MACs 00-1B-17-00-01-18
    "ether.dest_mac": lambda v: v.replace(":", "-").upper(),
    "http.hostname": lambda v: v.removesuffix(".") or v,  # ECS domains have no trailing dot
}
TIMES = {"timestamp", "flow.start", "flow.end"}


def leaves(record: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out |= leaves(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def test_a_renamed_value_is_stored_once_and_never_lost() -> None:
    """Every line of the golden input: a moved key's value is at its ECS field and not also
    under ``suricata.eve``; a value that does not fit its ECS field stays under ``suricata.eve``."""
    golden = Path(__file__).with_name("eve_golden") / "input.jsonl.gz"
    checked = 0
    with gzip.open(golden) as lines:
        for raw in lines:
            event = parse_eve_bytes(raw, HERE, CollectorStats())
            if event is None:
                continue
            record = json.loads(raw)
            flat = leaves(record)
            for key, target in MOVED_TO.items():
                value = flat.get(key)
                if type(value) not in (str, int, float, bool) or value == "":
                    continue
                checked += 1
                if target not in event:
                    assert event[f"suricata.eve.{key}"] == value, (key, raw)
                    continue
                if key not in TIMES:
                    assert event[target] == SAME_AFTER.get(key, lambda v: v)(value), (key, raw)
                assert f"suricata.eve.{key}" not in event, (key, raw)
    assert checked > 15_000


def test_values_that_do_not_fit_their_ecs_field_stay_under_suricata_eve() -> None:
    event = parse("flow", proto=6, flow={"start": "yesterday", "end": 5, "pkts_toserver": 2})
    assert event["suricata.eve.proto"] == 6 and "network.transport" not in event
    assert event["suricata.eve.flow.start"] == "yesterday" and event["suricata.eve.flow.end"] == 5
    assert event["source.packets"] == 2 and "suricata.eve.flow.pkts_toserver" not in event
    assert "suricata.eve.src_ip" not in event and event["source.ip"] == "10.20.0.10"
    alert = parse("alert", alert={"action": 1, "signature": "x"}, http={"url": 7})
    assert alert["suricata.eve.alert.action"] == 1 and alert["suricata.eve.http.url"] == 7
