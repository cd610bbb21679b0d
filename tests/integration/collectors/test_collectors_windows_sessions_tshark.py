"""Wireshark's dissectors read the crafted SMB, NTLMSSP and RDP bytes as the protocols they
claim to be, and find in them what the packet collectors report: an independent check of both
the builders (scenarios.windowscraft) and the decoders, through the tshark reader as well."""

from __future__ import annotations

import random
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from collectors.packets.pcap import read_pcap
from collectors.sources.tshark import read_pcap_tshark
from collectors.stats import CollectorStats
from scenarios import windowscraft as w
from scenarios.packetcraft import Capture, Turn, tcp_conversation

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="needs Debian's tshark"),
]

GUID = uuid.UUID("0d9e8f7a-6b5c-4d3e-8f21-a1b2c3d4e5f6")
NAMES = {1: "DC-FS01", 2: "HCMC", 3: "dc-fs01.hcmc.example", 4: "hcmc.example"}


def smb(message: bytes) -> bytes:
    return w.netbios(message)


SMB2: list[Turn] = [
    ("c", smb(w.negotiate_request([0x0210, 0x0300, 0x0311], client_guid=GUID,
                                  netname="dc-fs01.hcmc.example", ciphers=(4,)))),
    ("s", smb(w.negotiate_response(0x0311, server_guid=GUID, signing_required=True, cipher=4))),
    ("c", smb(w.session_setup_request(w.spnego_init(w.ntlm_negotiate())))),
    ("s", smb(w.session_setup_response(
        w.MORE_PROCESSING, w.spnego_response(w.ntlm_challenge(NAMES))))),
    ("c", smb(w.session_setup_request(w.spnego_response(
        w.ntlm_authenticate("nguyen.van.a", "HCMC", "IOC-ENG-01"))))),
    ("s", smb(w.session_setup_response(w.LOGON_FAILURE))),
]  # fmt: skip
SMB1: list[Turn] = [
    ("c", smb(w.smb1_negotiate_request(["LANMAN1.0", "NT LM 0.12"]))),
    ("s", smb(w.smb1_negotiate_response(1))),
]
RDP: list[Turn] = [
    ("c", w.connection_request(cookie="admin", protocols=w.PROTOCOL_RDP)),
    ("s", w.connection_confirm(selected=w.PROTOCOL_RDP)),
    ("c", w.mcs_connect_initial("WIN-K3J9", build=7601, layout=0x0409)),
]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cap, rng = Capture(), random.Random(5)
    for n, (turns, port) in enumerate([(SMB2, 445), (SMB1, 445), (RDP, 3389)]):
        cap.add(tcp_conversation(("10.20.0.40", 50100 + n), ("10.10.1.5", port),
                                 1_795_665_000.0 + n, turns, rng=rng))  # fmt: skip
    path = tmp_path_factory.mktemp("windows") / "windows.pcap"
    cap.write(path)
    return path


def tshark(path: Path, display: str, *fields: str) -> list[list[str]]:
    args = ["tshark", "-n", "-r", str(path), "-Y", display, "-T", "fields"]
    for name in fields:
        args += ["-e", name]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]


def test_wireshark_finds_no_malformed_packet(capture: Path) -> None:
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning", "frame.number") == []


def test_wireshark_and_the_collectors_agree(capture: Path) -> None:
    events = list(read_pcap(capture, CollectorStats()))
    smb_events = [e for e in events if e["event.dataset"] == "network_traffic.smb"]
    [rdp] = [e for e in events if e["event.dataset"] == "network_traffic.rdp"]
    session, legacy = smb_events
    assert tshark(capture, "smb2.cmd == 0 && smb2.flags.response == 1", "smb2.dialect") == [
        ["0x0311"]
    ]
    assert session["smb.dialect"] == "3.1.1"
    [auth] = tshark(capture, "ntlmssp.messagetype == 3", "ntlmssp.auth.username",
                    "ntlmssp.auth.domain", "ntlmssp.auth.hostname")  # fmt: skip
    assert auth == [session["user.name"], session["user.domain"], session["source.domain"]]
    [target] = tshark(capture, "ntlmssp.messagetype == 2",
                      "ntlmssp.challenge.target_info.dns_computer_name")  # fmt: skip
    assert target == [session["destination.domain"]]
    [status] = tshark(capture, "smb2.cmd == 1 && smb2.nt_status != 0xc0000016", "smb2.nt_status")
    assert status == ["0xc000006d"] and session["event.reason"] == "STATUS_LOGON_FAILURE"
    [chosen] = tshark(capture, "smb.cmd == 0x72 && smb.flags.response == 1", "smb.dialect.index")
    assert chosen == ["1"] and legacy["smb.dialect"] == "NT LM 0.12"
    [cookie] = tshark(capture, "rdp.rt_cookie", "rdp.rt_cookie")
    assert cookie == [f"Cookie: mstshash={rdp['user.name']}"]
    [core] = tshark(capture, "rdp.client.name", "rdp.client.name", "rdp.client.build",
                    "rdp.keyboardLayout")  # fmt: skip
    assert core[0] == rdp["rdp.client.name"] == "WIN-K3J9"
    assert int(core[1]) == rdp["rdp.client.build"] == 7601
    assert int(core[2]) == int(str(rdp["rdp.client.keyboard_layout"]), 16) == 0x0409


def test_the_tshark_reader_gives_the_same_session_events(capture: Path) -> None:
    def sessions(events: list[dict[str, object]]) -> list[dict[str, object]]:
        return sorted(
            (e for e in events if e["event.dataset"] != "network_traffic.flow"),
            key=lambda e: str(e["event.id"]),
        )

    built_in = sessions(list(read_pcap(capture, CollectorStats())))
    via_tshark = sessions(list(read_pcap_tshark(capture, CollectorStats())))
    assert len(built_in) == 3 and via_tshark == built_in
