"""Telnet, SSH, WS-Discovery, Modbus writes and DNP3 in captures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scapy.utils import PcapWriter

from citysoc.core.ecs import Event
from collectors.packets.logins import strip_telnet
from collectors.packets.pcap import read_pcap
from collectors.packets.wsdiscovery import wsdiscovery_fields
from collectors.stats import CollectorStats
from scenarios import generator

DEMO = generator.SAMPLES / "demo-city.pcap"
START = 1795658400.0


@pytest.fixture(scope="module")
def demo() -> list[Event]:
    return list(read_pcap(DEMO, CollectorStats()))


def of(events: list[Event], dataset: str) -> list[Event]:
    return [e for e in events if e["event.dataset"] == dataset]


def conversation(
    tmp_path: Path, server: tuple[str, int], turns: list[generator.Turn], seed: int = 1
) -> list[Event]:
    pkts = generator.tcp_conversation(
        ("10.32.0.66", 41000), server, START, turns, rng=random.Random(seed)
    )
    path = tmp_path / "conversation.pcap"
    writer = PcapWriter(str(path), linktype=1)
    for pkt in pkts:
        writer.write(pkt)
    writer.close()
    stats = CollectorStats()
    events = list(read_pcap(path, stats))
    assert stats.errors == {}
    return events


def test_demo_telnet_logins_name_the_user_never_the_password(demo: list[Event]) -> None:
    telnet = of(demo, "network_traffic.telnet")
    assert len(telnet) == len(generator.TELNET_OPEN) == 2
    for event in telnet:
        assert event["user.name"] == "admin" and event["event.outcome"] == "failure"
        assert event["event.category"] == "authentication"
        assert event["source.ip"] == generator.INFECTED_CAMERA
        assert event["destination.port"] == 23


def test_telnet_negotiation_echo_and_success(tmp_path: Path) -> None:
    turns: list[generator.Turn] = [
        ("s", b"\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0BusyBox on cam\r\nlogin: "),
        ("c", b"\xff\xfb\x18r"),  # the client answers the option, then types one key
        ("s", b"r"),  # server echo
        ("c", b"oot\r\n"),
        ("s", b"oot\r\nPassword: "),
        ("c", b"xc3511\r\n"),
        ("s", b"\r\n~ # "),
    ]
    events = conversation(tmp_path, ("10.32.1.9", 23), turns)
    (login,) = of(events, "network_traffic.telnet")
    assert login["user.name"] == "root" and login["event.outcome"] == "success"
    assert login["event.action"] == "telnet_login"
    assert "xc3511" not in " ".join(str(v) for e in events for v in e.values())


def test_telnet_prompt_without_answer_is_reported(tmp_path: Path) -> None:
    events = conversation(tmp_path, ("10.32.1.9", 23), [("s", b"\r\nlogin: ")])
    (prompt,) = of(events, "network_traffic.telnet")
    assert prompt["event.action"] == "telnet_login_prompt"
    assert prompt["event.outcome"] == "unknown" and "user.name" not in prompt


def test_strip_telnet_keeps_state_across_segments() -> None:
    state = [0]
    assert strip_telnet(b"ab\xff", state) == b"ab"
    assert strip_telnet(b"\xfd\x01cd\xff\xff", state) == b"cd\xff"
    assert state == [0]


def test_demo_ssh_handshake_has_both_banners(demo: list[Event]) -> None:
    ssh, auth = of(demo, "network_traffic.ssh")
    assert (ssh["event.action"], auth["event.action"]) == ("ssh_handshake", "ssh_authentication")
    assert auth["event.outcome"] == "unknown"  # the capture has its first round trip only
    assert ssh["ssh.client.banner"] == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
    assert ssh["ssh.server.software"] == "OpenSSH_9.2p1"
    assert ssh["ssh.client.protocol_version"] == "2.0"
    assert ssh["event.outcome"] == "success"
    assert (ssh["source.ip"], ssh["destination.ip"]) == (generator.BASTION, generator.APP_SERVER)


def test_ssh_and_dnp3_are_recognised_on_other_ports(tmp_path: Path) -> None:
    ssh = conversation(
        tmp_path,
        ("10.10.1.5", 2222),
        [("s", b"SSH-2.0-dropbear_2019.78\r\n"), ("c", b"SSH-2.0-libssh_0.9.6\r\n")],
    )
    (handshake,) = of(ssh, "network_traffic.ssh")
    assert handshake["ssh.server.software"] == "dropbear_2019.78"
    assert of(ssh, "network_traffic.flow")[0]["network.protocol"] == "ssh"
    dnp3_read = bytes.fromhex("056408c40a000100") + b"\x00\x00"
    dnp3 = conversation(tmp_path, ("10.40.0.5", 20001), [("c", dnp3_read)], seed=2)
    assert of(dnp3, "network_traffic.flow")[0]["network.protocol"] == "dnp3"


def test_demo_onvif_discovery(demo: list[Event]) -> None:
    wsd = of(demo, "network_traffic.wsdiscovery")
    probes = [e for e in wsd if e["event.action"] == "wsdiscovery_probe"]
    matches = [e for e in wsd if e["event.action"] == "wsdiscovery_probe_matches"]
    assert len(probes) == 1 and len(matches) == 2
    assert probes[0]["wsdiscovery.types"] == "dn:NetworkVideoTransmitter"
    assert probes[0]["destination.ip"] == generator.WSD_GROUP
    xaddrs = {e["wsdiscovery.xaddrs"] for e in matches}
    assert xaddrs == {f"http://{ip}/onvif/device_service" for ip, _ in generator.ONVIF_CAMERAS}
    assert {e["wsdiscovery.relates_to"] for e in matches} == {probes[0]["wsdiscovery.message_id"]}
    assert all(e["source.ip"] == generator.VMS for e in wsd)


@pytest.mark.parametrize(
    "payload",
    [b"", b"<x/>", b"<s:Envelope><s:Body><Unknown/></s:Body></s:Envelope>", b"\xff" * 70000],
)
def test_wsdiscovery_refuses_what_is_not_a_message(payload: bytes) -> None:
    with pytest.raises(ValueError):
        wsdiscovery_fields(payload)


def test_demo_modbus_writes_from_an_operator_workstation(demo: list[Event]) -> None:
    writes = [e for e in of(demo, "network_traffic.modbus") if "change" in e["event.type"]]
    assert [e["modbus.function_code"] for e in writes] == [6, 16]
    single, multiple = writes
    assert single["source.ip"] == generator.OPERATOR_WORKSTATION
    assert single["modbus.register.address"] == 40 and single["modbus.register.value"] == 0
    assert single["event.outcome"] == "success" and single["modbus.unit_id"] == 1
    assert multiple["event.outcome"] == "failure"
    assert multiple["modbus.exception_code"] == 2
    assert multiple["modbus.exception_name"] == "illegal_data_address"
    assert multiple["modbus.register.quantity"] == 2


def test_url_path_decodes_escaped_unreserved_characters_only() -> None:
    from collectors.packets.protocols import normalised_path, url_fields

    assert normalised_path("/SDK/web%4canguage") == "/SDK/webLanguage"
    assert normalised_path("/a%2Fb%3F%20") == "/a%2Fb%3F%20"  # reserved and space stay
    fields = url_fields("/SDK/web%4Canguage?x=1", None)
    assert fields["url.path"] == "/SDK/webLanguage"
    assert fields["url.original"] == "/SDK/web%4Canguage?x=1"


def dnp3_frame(sequence: int, function: int, objects: bytes = b"\x3c\x02\x06") -> bytes:
    user = bytes([0xC0 | sequence, 0xC0 | sequence, function]) + objects
    header = bytes([0x05, 0x64, 5 + len(user), 0xC4]) + (10).to_bytes(2, "little")
    blocks = b"".join(user[i : i + 16] + b"\x00\x00" for i in range(0, len(user), 16))
    return header + (1).to_bytes(2, "little") + b"\x00\x00" + blocks


def test_dnp3_requests_name_their_function_and_mark_control(tmp_path: Path) -> None:
    frames = dnp3_frame(0, 1) + dnp3_frame(1, 5, bytes(20)) + dnp3_frame(2, 13)
    events = of(
        conversation(tmp_path, ("10.41.0.10", 20000), [("c", frames)], seed=3),
        "network_traffic.dnp3",
    )
    assert [e["dnp3.function_name"] for e in events] == ["read", "direct_operate", "cold_restart"]
    assert [e["event.type"] for e in events][1] == ["change", "protocol"]
    assert events[0]["dnp3.destination_address"] == 10 and events[0]["dnp3.source_address"] == 1
    assert events[1]["event.action"] == "dnp3_direct_operate"
    not_dnp3 = conversation(tmp_path, ("10.41.0.10", 20000), [("c", b"GET / HTTP/1.0\r\n\r\n")])
    assert of(not_dnp3, "network_traffic.dnp3") == []
