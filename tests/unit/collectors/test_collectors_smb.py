"""SMB session starts on the wire: crafted SMB2/SMB1 conversations (built field by field from
MS-SMB2, MS-CIFS and MS-NLMP by scenarios.windowscraft) through the real pcap path, and hostile
bytes that end one side's parse, counted with their place, without losing the connection."""

from __future__ import annotations

import json
import random
import struct
import uuid
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from citysoc.core.settings import BUNDLED_TOPOLOGY
from collectors.enrich import enricher_for
from collectors.packets import ntlm
from collectors.packets.netbios import FRAME_MAX
from collectors.packets.ntlm import NtlmError
from collectors.packets.pcap import read_pcap
from collectors.packets.smb import SmbSession
from collectors.stats import CollectorStats
from scenarios import windowscraft as w
from scenarios.packetcraft import Capture, Turn, tcp_conversation

START = 1_795_660_000.0
CLIENT_GUID = uuid.UUID("6f1c2b1e-0b5a-4c1e-9a51-3c0d2e4f5a6b")
SERVER_GUID = uuid.UUID("0d9e8f7a-6b5c-4d3e-8f21-a1b2c3d4e5f6")
SERVER_NAMES = {1: "DC-FS01", 2: "HCMC", 3: "dc-fs01.hcmc.example", 4: "hcmc.example"}
SMB3 = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]


def smb(*messages: bytes) -> bytes:
    return b"".join(w.netbios(m) for m in messages)


def negotiation(dialect: int = 0x0311) -> list[Turn]:
    offer = w.negotiate_request(SMB3, client_guid=CLIENT_GUID, netname="dc-fs01.hcmc.example",
                                ciphers=(4, 2))  # fmt: skip
    answer = w.negotiate_response(dialect, server_guid=SERVER_GUID, signing_required=True,
                                  cipher=4 if dialect == 0x0311 else None)  # fmt: skip
    return [("c", smb(offer)), ("s", smb(answer))]


def login(user: str, status: int, **auth: object) -> list[Turn]:
    """One NTLM session setup exchange: NEGOTIATE, CHALLENGE, AUTHENTICATE, final status."""
    authenticate = w.ntlm_authenticate(user, "HCMC", "IOC-OPS-07", **auth)  # type: ignore[arg-type]
    return [
        ("c", smb(w.session_setup_request(w.spnego_init(w.ntlm_negotiate())))),
        ("s", smb(w.session_setup_response(
            w.MORE_PROCESSING, w.spnego_response(w.ntlm_challenge(SERVER_NAMES))))),
        ("c", smb(w.session_setup_request(w.spnego_response(authenticate)))),
        ("s", smb(w.session_setup_response(status))),
    ]  # fmt: skip


def tree(path: str = "\\\\dc-fs01\\kho-du-lieu") -> list[Turn]:
    return [("c", smb(w.tree_connect_request(path))), ("s", smb(w.tree_connect_response()))]


def run(
    tmp_path: Path, turns: list[Turn], *, client: str = "10.20.0.40", port: int = 445
) -> tuple[list[Event], CollectorStats]:
    cap = Capture()
    cap.add(tcp_conversation((client, 50123), ("10.10.2.15", port), START, turns,
                             rng=random.Random(7)))  # fmt: skip
    path = tmp_path / "smb.pcap"
    cap.write(path)
    stats = CollectorStats()
    enrich = enricher_for(BUNDLED_TOPOLOGY, "dic")
    events = [enrich(e) for e in read_pcap(path, stats)]
    for event in events:
        assert problems(event) == [], event  # ECS names, types and categories
        json.dumps(event)
    return [e for e in events if e["event.dataset"] == "network_traffic.smb"], stats


def test_an_smb311_session_gives_dialect_names_user_and_share(tmp_path: Path) -> None:
    turns = negotiation() + login("nguyen.van.a", 0) + tree()
    [event], stats = run(tmp_path, turns)
    assert stats.errors == {}
    assert event["event.action"] == "smb_session_setup" and event["event.outcome"] == "success"
    assert (event["smb.version"], event["smb.dialect"]) == ("SMB3", "3.1.1")
    assert event["smb.client.dialects"] == ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
    assert event["smb.client.guid"] == str(CLIENT_GUID)
    assert event["smb.server.guid"] == str(SERVER_GUID)
    assert event["smb.signing_required"] is True
    assert event["smb.encryption_cipher"] == "AES-256-GCM"
    assert event["smb.client.ciphers"] == ["AES-256-GCM", "AES-128-GCM"]
    assert event["smb.server.requested_name"] == "dc-fs01.hcmc.example"
    assert (event["user.name"], event["user.domain"]) == ("nguyen.van.a", "HCMC")
    assert event["source.domain"] == "IOC-OPS-07"
    assert event["destination.domain"] == "dc-fs01.hcmc.example"
    assert event["smb.server.netbios_computer"] == "DC-FS01"
    assert event["smb.server.dns_domain"] == "hcmc.example"
    assert (event["smb.ntlm.response"], event["smb.ntlm.server_version"]) == (
        "NTLMv2",
        "10.0.20348",
    )
    assert (event["smb.tree.share"], event["smb.tree.share_type"]) == ("kho-du-lieu", "disk")
    assert event["related.user"] == ["nguyen.van.a"]
    assert event["related.hosts"] == ["IOC-OPS-07", "dc-fs01.hcmc.example"]
    assert event["citysoc.source.kind"] == "ioc"
    assert event["citysoc.destination.kind"] == "datacentre"


def test_password_guesses_on_one_connection_give_one_event_each(tmp_path: Path) -> None:
    turns = negotiation(0x0302) + login("admin", w.LOGON_FAILURE) + login("admin", 0xC0000234)
    turns += login("backup", 0)
    events, _ = run(tmp_path, turns)
    assert [e["event.outcome"] for e in events] == ["failure", "failure", "success"]
    assert [e.get("event.reason") for e in events] == [
        "STATUS_LOGON_FAILURE", "STATUS_ACCOUNT_LOCKED_OUT", None]  # fmt: skip
    assert [e["user.name"] for e in events] == ["admin", "admin", "backup"]
    assert {e["smb.dialect"] for e in events} == {"3.0.2"}
    assert len({e["event.id"] for e in events}) == 3


def test_ntlmv1_and_oem_names_are_read(tmp_path: Path) -> None:
    turns = negotiation(0x0210) + login("scanner", 0, ntlm_v1=True, unicode=False)
    [event], _ = run(tmp_path, turns)
    assert event["smb.ntlm.response"] == "NTLMv1" and event["user.name"] == "scanner"
    assert (event["smb.version"], event["smb.dialect"]) == ("SMB2", "2.1")


def test_smb1_negotiated_is_named_and_a_multi_protocol_offer_is_not(tmp_path: Path) -> None:
    legacy = ["PC NETWORK PROGRAM 1.0", "LANMAN1.0", "NT LM 0.12"]
    only_smb1: list[Turn] = [("c", smb(w.smb1_negotiate_request(legacy))),
                 ("s", smb(w.smb1_negotiate_response(2)))]  # fmt: skip
    [event], _ = run(tmp_path, only_smb1)
    assert event["event.action"] == "smb_negotiate" and event["event.outcome"] == "success"
    assert (event["smb.version"], event["smb.dialect"]) == ("SMB1", "NT LM 0.12")
    assert event["smb.client.dialects"] == legacy
    multi = ["NT LM 0.12", "SMB 2.002", "SMB 2.???"]
    upgraded: list[Turn] = [("c", smb(w.smb1_negotiate_request(multi))),
                            ("s", smb(w.negotiate_response(0x02FF, server_guid=SERVER_GUID,
                                                           signing_required=False)))]  # fmt: skip
    [event], _ = run(tmp_path, upgraded + negotiation(0x0300) + login("vms", 0))
    assert (event["smb.version"], event["smb.dialect"]) == ("SMB3", "3.0")
    assert event["smb.client.dialects"][:3] == multi


def test_an_smb1_session_setup_gives_its_ntlm_user_and_status(tmp_path: Path) -> None:
    auth = w.ntlm_authenticate("guest", "WORKGROUP", "XP-KIOSK", ntlm_v1=True)
    turns: list[Turn] = [
        ("c", smb(w.smb1_negotiate_request(["LANMAN1.0", "NT LM 0.12"]))),
        ("s", smb(w.smb1_negotiate_response(1))),
        ("c", smb(w.smb1_session_setup(w.spnego_init(w.ntlm_negotiate())))),
        ("s", smb(w.smb1_session_setup(w.spnego_response(w.ntlm_challenge(SERVER_NAMES)),
                                       status=w.MORE_PROCESSING))),
        ("c", smb(w.smb1_session_setup(w.spnego_response(auth)))),
        ("s", smb(w.smb1_session_setup(b"", status=w.LOGON_FAILURE))),
    ]  # fmt: skip
    [event], stats = run(tmp_path, turns, client="10.31.0.33")
    assert stats.errors == {}
    assert (event["smb.version"], event["smb.dialect"]) == ("SMB1", "NT LM 0.12")
    assert (event["user.name"], event["source.domain"]) == ("guest", "XP-KIOSK")
    assert event["smb.ntlm.response"] == "NTLMv1" and event["event.outcome"] == "failure"
    assert event["destination.domain"] == "dc-fs01.hcmc.example"


def test_a_kerberos_session_names_the_service_not_the_user(tmp_path: Path) -> None:
    ticket = w.kerberos_ap_req("HCMC.EXAMPLE", ["cifs", "dc-fs01.hcmc.example"])
    turns = [*negotiation(), ("c", smb(w.session_setup_request(w.spnego_kerberos(ticket)))),
             ("s", smb(w.session_setup_response(0)))]  # fmt: skip
    [event], stats = run(tmp_path, turns)
    assert stats.errors == {}
    assert event["smb.auth.mechanism"] == "kerberos" and "user.name" not in event
    assert event["smb.kerberos.realm"] == "HCMC.EXAMPLE"
    assert event["smb.kerberos.service"] == "cifs/dc-fs01.hcmc.example"
    assert event["destination.domain"] == "dc-fs01.hcmc.example"
    bad = bytearray(ticket)
    bad[bad.find(b"\x61") + 1] = 0x7F  # the ticket claims more than the AP-REQ holds
    session = SmbSession()
    session.client_data(smb(w.session_setup_request(w.spnego_kerberos(bytes(bad)))), 1.0)
    [(reason, detail)] = session.take_errors()
    assert reason == "smb-malformed" and "DER" in detail


def test_ntlm_fields_past_their_message_are_refused() -> None:
    challenge = bytearray(w.ntlm_challenge({1: "FS"}))
    struct.pack_into("<HH", challenge, 56, 1, 0xFFF0)  # the first AV_PAIR claims 65,520 bytes
    with pytest.raises(NtlmError, match="AV_PAIR 1 of 65520 bytes"):
        ntlm.parse_challenge(bytes(challenge))
    with pytest.raises(NtlmError, match="no message type"):
        ntlm.locate(b"xxNTLMSSP\x00\x03")
    assert ntlm.mechanism(b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02") == "kerberos"


def test_port_139_session_request_and_unusual_ports_are_read(tmp_path: Path) -> None:
    session_request = b"\x81\x00\x00\x44" + b"\x20" + b"A" * 32 + b"\x00" + b"\x20" + b"B" * 32
    turns: list[Turn] = [("c", session_request + b"\x00"), ("s", b"\x82\x00\x00\x00")]
    [event], _ = run(tmp_path, turns + negotiation() + login("op", 0), port=139)
    assert event["user.name"] == "op" and event["destination.port"] == 139
    [event], _ = run(tmp_path, negotiation() + login("op", 0), port=4450)
    assert event["network.protocol"] == "smb" and event["smb.dialect"] == "3.1.1"


def test_a_session_without_tree_connect_is_reported_at_the_end(tmp_path: Path) -> None:
    [event], _ = run(tmp_path, negotiation() + login("nobody", 0))
    assert event["event.outcome"] == "success" and "smb.tree.path" not in event


def test_malformed_ntlm_ends_the_client_parse_and_is_counted(tmp_path: Path) -> None:
    bad = bytearray(w.ntlm_authenticate("u", "D", "W"))
    struct.pack_into("<I", bad, 40, 60_000)  # UserName's offset past the message
    turns = [*negotiation(), ("c", smb(w.session_setup_request(w.spnego_response(bytes(bad))))),
             ("s", smb(w.session_setup_response(w.LOGON_FAILURE)))]  # fmt: skip
    [event], stats = run(tmp_path, turns)
    assert stats.errors == {"smb-malformed": 1}
    assert event["event.outcome"] == "failure" and "user.name" not in event


def test_huge_declared_lengths_are_bounded(tmp_path: Path) -> None:
    session = SmbSession()
    for data in negotiation():
        (session.client_data if data[0] == "c" else session.server_data)(data[1], 1.0)
    read = w.smb2_header(8, message_id=5)  # a READ: its long frame is passed over unread
    session.client_data(b"\x00\xff\xff\xff" + read + b"x" * 1000, 1.0)
    assert len(session.sides[0].buffer) == 0 and session.sides[0].skip > 0
    session.client_data(b"y" * (0xFFFFFF + 4 - 64 - 1004), 1.0)
    assert session.sides[0].skip == 0 and not session.sides[0].closed
    whole = FRAME_MAX + 100  # a long frame arriving whole, with the next one behind it
    session.client_data(w.netbios(read + bytes(whole - 64)) + negotiation()[0][1], 1.0)
    assert session.sides[0].skip == 0 and not session.sides[0].closed
    offer = len(negotiation()[0][1])
    assert session.sides[0].consumed == offer + (4 + 0xFFFFFF) + (4 + whole) + offer
    huge_setup = b"\x00\xff\xff\xff" + w.smb2_header(1) + b"z" * 100
    session.client_data(huge_setup, 1.1)
    assert session.sides[0].closed and len(session.sides[0].buffer) <= FRAME_MAX + 4
    [(reason, detail)] = session.take_errors()
    assert reason == "smb-malformed" and "16777215 bytes" in detail


@pytest.mark.parametrize(
    ("name", "frame", "where"),
    [
        ("dialect count", w.smb2_header(0) + struct.pack("<HH", 36, 5000) + bytes(40), "5000"),
        ("next command", w.smb2_header(0, next_command=72) + bytes(8), "NextCommand 72"),
        ("short header", b"\xfeSMB" + bytes(20), "needs 64 bytes"),
        ("not smb", b"\x01\x02\x03\x04", "not an SMB header"),
    ],
)
def test_malformed_messages_name_their_place(name: str, frame: bytes, where: str) -> None:
    session = SmbSession()
    session.client_data(negotiation()[0][1], 1.0)
    session.client_data(w.netbios(frame), 1.1)
    [(reason, detail)] = session.take_errors()
    assert reason == "smb-malformed" and where in detail and "client stream byte" in detail, name
    assert session.sides[0].closed


def test_bad_netbios_framing_and_non_smb_streams() -> None:
    framing = SmbSession()
    framing.client_data(negotiation()[0][1] + b"\x42\x00\x00\x01x", 1.0)
    [(reason, detail)] = framing.take_errors()
    assert reason == "smb-malformed" and "NetBIOS frame type 0x42" in detail
    assert framing.finish()[0].fields["smb.client.dialects"]  # what was read is kept
    split = SmbSession()  # a first segment that ends inside the SMB header
    offer = negotiation()[0][1]
    split.client_data(offer[:6], 1.0)
    split.client_data(offer[6:], 1.0)
    assert split.finish()[0].fields["smb.client.dialects"][-1] == "3.1.1"
    plain = SmbSession()
    assert plain.client_data(b"GET / HTTP/1.1\r\n\r\n", 1.0) == [] and plain.done
    assert plain.finish() == [] and plain.take_errors() == []
