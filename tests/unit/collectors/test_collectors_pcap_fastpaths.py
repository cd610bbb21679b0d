"""The packet path's hand-written fast paths agree with the references they replace."""

from __future__ import annotations

import ipaddress
import random
import struct
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR

from citysoc.core import ecs
from collectors.packets.dns import dns_fields
from collectors.packets.flows import community_id, packet_timestamp
from collectors.sources.pcapfile import iter_records
from collectors.stats import CollectorStats


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_community_id_agrees_with_the_reference_package(transport: str) -> None:
    communityid = pytest.importorskip("communityid")
    reference = communityid.CommunityID()
    make = communityid.FlowTuple.make_tcp if transport == "tcp" else communityid.FlowTuple.make_udp
    rng = random.Random(7)
    for _ in range(300):
        bits = 128 if rng.random() < 0.3 else 32
        hosts = [str(ipaddress.ip_address(rng.getrandbits(bits))) for _ in range(2)]
        if rng.random() < 0.1:
            hosts[1] = hosts[0]
        ports = [rng.choice([23, 554, 3702, rng.randrange(65536)]) for _ in range(2)]
        expected = reference.calc(make(hosts[0], hosts[1], ports[0], ports[1]))
        assert community_id(transport, (hosts[0], ports[0]), (hosts[1], ports[1])) == expected


@settings(max_examples=500, deadline=None, database=None)
@given(st.floats(min_value=-1e9, max_value=4e9, allow_nan=False))
def test_packet_timestamp_equals_ecs_timestamp(epoch: float) -> None:
    assert packet_timestamp(epoch) == ecs.timestamp(epoch)


def test_packet_timestamp_edges() -> None:
    for epoch in (1795658400.9999995, 1795658400.0009995, 0.0, -0.5, -1e-7):
        assert packet_timestamp(epoch) == ecs.timestamp(epoch)


def test_dns_parser_reads_what_scapy_builds() -> None:
    name = "portal.hochiminhcity.gov.vn.example"
    query = bytes(DNS(id=7, rd=1, qd=DNSQR(qname=name, qtype="AAAA")))
    answer = DNS(
        id=7,
        qr=1,
        rcode=0,
        qd=DNSQR(qname=name, qtype="A"),
        an=[
            DNSRR(rrname=name, type="CNAME", rdata="www." + name),
            DNSRR(rrname="www." + name, type="A", rdata="10.10.0.20"),
        ],
    )
    q = dns_fields(query)
    assert (q["dns.id"], q["dns.type"], q["dns.question.type"]) == ("7", "query", "AAAA")
    assert q["dns.question.name"] == name
    a = dns_fields(bytes(answer))
    assert a["dns.resolved_ip"] == "10.10.0.20" and a["citysoc.dns.answer_count"] == 2
    assert a["dns.response_code"] == "NOERROR" and a["event.outcome"] == "success"
    refused = dns_fields(bytes(DNS(id=8, qr=1, rcode=3, qd=DNSQR(qname=name))))
    assert refused["dns.response_code"] == "NXDOMAIN" and refused["event.outcome"] == "failure"


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00" * 11,
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05abc",  # label past the end
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c",  # pointer to itself
        b"\x00\x01\x81\x80\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01",  # answer cut short
    ],
)
def test_dns_parser_refuses_hostile_messages(payload: bytes) -> None:
    with pytest.raises(ValueError):
        dns_fields(payload)


def test_absurd_record_length_stops_without_reading_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pcap"
    frame = b"\x02" * 60
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out.write(struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)
        out.write(struct.pack("<IIII", 2, 0, 0xFFFFFFF0, 60) + frame * 1000)
    stats = CollectorStats()
    records = list(iter_records(path, stats))
    assert [r.number for r in records] == [1]
    assert stats.errors == Counter({"corrupt-pcap": 1})
