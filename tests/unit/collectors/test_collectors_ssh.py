"""SSH on the wire: KEXINITs read and fingerprinted, the negotiated algorithms, and a login
outcome guessed from encrypted sizes, on captures crafted per RFC 4253 and read through the
packet engine; cut, malformed and oversized packets end a side's parse, counted and located."""

from __future__ import annotations

import hashlib
import logging
import random
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.packet import Packet

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from collectors.packets.pcap import read_pcap
from collectors.packets.ssh import SshSession
from collectors.packets.sshkex import MAX_PACKET, negotiate, parse_kexinit
from collectors.stats import CollectorStats
from scenarios import sshcraft
from scenarios.packetcraft import Capture, Ending, Turn, frame, tcp_conversation
from scenarios.sshcraft import CLIENT_ALGORITHMS, SERVER_ALGORITHMS, Algorithms

START = 1_795_660_000.0
CLIENT, SERVER = ("203.0.113.77", 50500), ("10.10.0.20", 22)


def server_closes(pkts: list[Packet]) -> list[Packet]:
    """An open conversation ended by the server: its FIN, the client's, the last ACK."""
    last = {True: (0, 0), False: (0, 0)}  # from the client?: (next seq, ack)
    for pkt in pkts:
        seg = pkt[TCP]
        size = len(seg.payload) + (1 if seg.flags & 0x03 else 0)
        last[pkt["IP"].src == CLIENT[0]] = (seg.seq + size, seg.ack)
    (cseq, _), (sseq, _) = last[True], last[False]
    when = float(pkts[-1].time) + 0.01

    def segment(client: bool, flags: str, seq: int, ack: int, at: float) -> Packet:
        src, dst = (CLIENT, SERVER) if client else (SERVER, CLIENT)
        tcp = TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq % 2**32, ack=ack % 2**32)
        return frame(src[0], dst[0], tcp, at)

    return [*pkts, segment(False, "FA", sseq, cseq, when),
            segment(True, "FA", cseq, sseq + 1, when + 0.001),
            segment(False, "A", sseq + 1, cseq + 1, when + 0.002)]  # fmt: skip


def capture(
    tmp_path: Path, turns: list[Turn], *, ending: Ending | str = "fin", seed: int = 7
) -> tuple[list[Event], CollectorStats]:
    rng = random.Random(seed)
    cap = Capture()
    if ending == "server":
        cap.add(
            server_closes(tcp_conversation(CLIENT, SERVER, START, turns, rng=rng, ending="open"))
        )
    else:
        cap.add(tcp_conversation(CLIENT, SERVER, START, turns, rng=rng, ending=ending))  # type: ignore[arg-type]
    path = tmp_path / "ssh.pcap"
    cap.write(path)
    stats = CollectorStats()
    events = [e for e in read_pcap(path, stats) if e["event.dataset"] == "network_traffic.ssh"]
    assert all(problems(e) == [] for e in events), [problems(e) for e in events]
    return events, stats


def by_action(events: list[Event]) -> dict[str, Event]:
    return {e["event.action"]: e for e in events}


def expected_hassh(algorithms: Algorithms) -> tuple[str, str]:
    """HASSH written out from the lists: kex;encryption;mac;compression, MD5 in hex."""
    text = ";".join(",".join(names) for names in (
        algorithms.kex, algorithms.encryption, algorithms.mac, algorithms.compression))  # fmt: skip
    return text, hashlib.md5(text.encode()).hexdigest()


def test_kexinit_lists_and_hassh_fingerprints(tmp_path: Path) -> None:
    rng = random.Random(1)
    events, stats = capture(tmp_path, sshcraft.handshake(rng) + sshcraft.password_login(
        rng, 1, success=True))  # fmt: skip
    assert stats.errors == {}
    hello = by_action(events)["ssh_handshake"]
    assert hello["ssh.client.kex_algorithms"] == ",".join(CLIENT_ALGORITHMS.kex)
    assert hello["ssh.server.host_key_algorithms"] == ",".join(SERVER_ALGORITHMS.host_key)
    assert hello["ssh.client.encryption_algorithms"] == ",".join(CLIENT_ALGORITHMS.encryption)
    assert hello["ssh.server.mac_algorithms"] == ",".join(SERVER_ALGORITHMS.mac)
    assert hello["ssh.client.compression_algorithms"] == "none,zlib@openssh.com,zlib"
    client_text, client_md5 = expected_hassh(CLIENT_ALGORITHMS)
    server_text, server_md5 = expected_hassh(SERVER_ALGORITHMS)
    assert (hello["ssh.client.hassh_string"], hello["ssh.client.hassh"]) == (
        client_text,
        client_md5,
    )
    assert (hello["ssh.server.hassh_string"], hello["ssh.server.hassh"]) == (
        server_text,
        server_md5,
    )
    assert hello["ssh.client.software"] == "OpenSSH_9.2p1" and hello["ssh.strict_kex"] is True
    assert hello["source.ip"] == CLIENT[0] and hello["event.outcome"] == "success"


def test_the_negotiated_algorithms_follow_the_clients_preference(tmp_path: Path) -> None:
    old_client = Algorithms(
        kex=("diffie-hellman-group14-sha1", "ecdh-sha2-nistp256"),
        host_key=("ssh-rsa", "ecdsa-sha2-nistp256"),
        encryption=("aes128-cbc", "aes128-ctr"),
        mac=("hmac-sha1", "hmac-sha2-256"),
        compression=("zlib@openssh.com", "none"),
    )
    rng = random.Random(2)
    turns = sshcraft.handshake(rng, client=old_client, client_banner=b"SSH-2.0-libssh_0.9.6")
    events, _ = capture(tmp_path, turns)
    chosen = {k: v for k, v in by_action(events)["ssh_handshake"].items() if ".chosen." in k}
    assert chosen == {
        "ssh.chosen.kex": "ecdh-sha2-nistp256",  # the server has no group14-sha1
        "ssh.chosen.host_key": "ecdsa-sha2-nistp256",
        "ssh.chosen.encryption_client_to_server": "aes128-ctr",
        "ssh.chosen.encryption_server_to_client": "aes128-ctr",
        "ssh.chosen.mac_client_to_server": "hmac-sha2-256",
        "ssh.chosen.mac_server_to_client": "hmac-sha2-256",
        "ssh.chosen.compression_client_to_server": "zlib@openssh.com",
        "ssh.chosen.compression_server_to_client": "zlib@openssh.com",
    }
    assert by_action(events)["ssh_handshake"]["ssh.strict_kex"] is False
    # AEAD ciphers carry their own integrity: no MAC is negotiated for them
    offers = [parse_kexinit(sshcraft.kexinit_payload(a, bytes(16)))
              for a in (CLIENT_ALGORITHMS, SERVER_ALGORITHMS)]  # fmt: skip
    aead = negotiate(*offers)
    assert aead["encryption_client_to_server"] == "chacha20-poly1305@openssh.com"
    assert aead["mac_client_to_server"] == "<implicit>"


def test_three_refused_passwords_then_the_server_closes(tmp_path: Path) -> None:
    rng = random.Random(3)
    turns = sshcraft.handshake(rng) + sshcraft.password_login(
        rng, 3, success=False, disconnect=True
    )
    events, stats = capture(tmp_path, turns, ending="server")
    assert stats.errors == {}
    auth = by_action(events)["ssh_authentication"]
    assert auth["event.outcome"] == "failure"
    assert auth["event.category"] == ["network", "authentication"]
    assert auth["citysoc.ssh.closed_by"] == "server"
    assert auth["citysoc.ssh.failure_answers"] == 3  # the none probe and two refused passwords
    assert auth["citysoc.ssh.round_trips"] == 5  # service, none, three passwords
    assert auth["citysoc.ssh.answer_bytes"] == "328,68,68,68,100"  # EXT_INFO and accept: 328
    assert auth["citysoc.ssh.server.bytes"] < 1024 and auth["event.duration"] > 0


def test_one_try_per_connection_closed_by_the_client_is_a_failure(tmp_path: Path) -> None:
    rng = random.Random(4)
    turns = sshcraft.handshake(rng) + sshcraft.password_login(rng, 1, success=False)
    auth = by_action(capture(tmp_path, turns)[0])["ssh_authentication"]
    assert (auth["event.outcome"], auth["citysoc.ssh.closed_by"]) == ("failure", "client")
    assert auth["citysoc.ssh.failure_answers"] == 2


def test_a_tool_that_finds_the_password_and_leaves_is_not_a_failure(tmp_path: Path) -> None:
    rng = random.Random(13)
    login = sshcraft.password_login(rng, 3, success=True)[: 5 + 2 * 3]  # no session after it
    auth = by_action(capture(tmp_path, sshcraft.handshake(rng) + login)[0])["ssh_authentication"]
    assert auth["event.outcome"] == "unknown"  # a USERAUTH_SUCCESS is shorter than a refusal
    assert auth["citysoc.ssh.answer_bytes"].endswith(",68,36")


def test_a_login_that_opens_a_shell_is_a_success(tmp_path: Path) -> None:
    rng = random.Random(5)
    turns = sshcraft.handshake(rng) + sshcraft.password_login(rng, 2, success=True)
    auth = by_action(capture(tmp_path, turns)[0])["ssh_authentication"]
    assert auth["event.outcome"] == "success", auth["citysoc.ssh.outcome_reason"]
    assert auth["citysoc.ssh.server.bytes"] >= 2048
    assert auth["citysoc.ssh.failure_answers"] == 0


def test_an_open_connection_or_no_authentication_stays_unknown(tmp_path: Path) -> None:
    rng = random.Random(6)
    turns = sshcraft.handshake(rng) + sshcraft.password_login(rng, 2, success=False)
    auth = by_action(capture(tmp_path, turns, ending="open")[0])["ssh_authentication"]
    assert auth["event.outcome"] == "unknown" and auth["citysoc.ssh.closed_by"] == "none"
    banners_only = capture(tmp_path, sshcraft.handshake(random.Random(6))[:2])[0]
    assert [e["event.action"] for e in banners_only] == ["ssh_handshake"]


def test_a_cut_kexinit_is_counted_and_located(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    turns = sshcraft.handshake(random.Random(8))
    kexinit = turns[2][1]
    turns[2] = ("c", kexinit[: len(kexinit) // 2])  # the client stops mid-packet
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        events, stats = capture(tmp_path, turns[:4])
    assert stats.errors == {"ssh-truncated-packet": 1}
    assert "ssh.pcap" in caplog.text and "ssh-truncated-packet" in caplog.text
    assert f"{len(kexinit) // 2} bytes of a packet at stream byte 0" in caplog.text
    (hello,) = events  # the handshake survives with what was read
    assert "ssh.client.kex_algorithms" not in hello
    assert hello["ssh.server.kex_algorithms"] == ",".join(SERVER_ALGORITHMS.kex)


def test_a_malformed_kexinit_is_counted_with_its_packet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(9)
    payload = bytearray(sshcraft.kexinit_payload(CLIENT_ALGORITHMS, bytes(16)))
    payload[17:21] = struct.pack(">I", 60_000)  # a kex list longer than the packet
    turns = sshcraft.handshake(rng)
    turns[2] = ("c", sshcraft.binary_packet(bytes(payload), rng))
    with caplog.at_level(logging.WARNING, logger="collectors.stats"):
        events, stats = capture(tmp_path, turns + sshcraft.password_login(rng, 1, success=False))
    assert stats.errors == {"ssh-malformed-kexinit": 1}
    assert "record 6" in caplog.text and "kex_algorithms: a 60000-byte list at 17" in caplog.text
    hello = by_action(events)["ssh_handshake"]
    assert "ssh.client.hassh" not in hello and hello["ssh.server.hassh"]
    assert "ssh_authentication" not in by_action(events)  # the client's side was not followed


def test_a_huge_declared_length_ends_the_parse_and_holds_nothing(tmp_path: Path) -> None:
    session = SshSession()
    session.server_data(b"SSH-2.0-OpenSSH_9.2p1\r\n", 1.0)
    session.client_data(b"SSH-2.0-x\r\n" + struct.pack(">IB", 0xFFFFFFF0, 4), 1.0)
    for _ in range(40):
        session.client_data(b"\0" * 65_536, 1.1)
    client = session.sides[0]
    assert client.stopped and client.reader.pending == 0
    assert [reason for reason, _ in session.take_errors()] == ["ssh-packet-too-long"]
    # a packet just within the limit is held whole, never more
    within = SshSession()
    within.client_data(b"SSH-2.0-x\r\n" + struct.pack(">IB", MAX_PACKET, 4), 1.0)
    within.client_data(b"\0" * (MAX_PACKET - 2), 1.0)
    assert within.sides[0].reader.pending == MAX_PACKET + 3 and not within.sides[0].stopped
    rng = random.Random(10)
    turns = sshcraft.handshake(rng)
    turns[3] = ("s", struct.pack(">IB", 1 << 31, 4) + rng.randbytes(1400))
    events, stats = capture(tmp_path, turns)
    assert stats.errors == {"ssh-packet-too-long": 1}
    assert by_action(events)["ssh_handshake"]["ssh.client.hassh"]


def test_a_client_that_does_not_speak_ssh_gives_no_ssh_event(tmp_path: Path) -> None:
    events, stats = capture(tmp_path, [("s", b"SSH-2.0-OpenSSH_9.2p1\r\n"), ("c", b"GET /\r\n")])
    assert events == [] and stats.errors == {}


def test_lines_before_the_server_banner_and_a_banner_in_pieces() -> None:
    session = SshSession()
    session.server_data(b"Authorised users only\r\nSSH-2.0-dropbear_2019.78\r", 1.0)
    session.client_data(b"SSH-2.0-libssh", 1.0)
    session.client_data(b"_0.9.6\r\n", 1.0)
    session.server_data(b"\n", 1.0)
    [hello] = session.finish()
    assert hello.fields["ssh.server.software"] == "dropbear_2019.78"
    assert hello.fields["ssh.client.software"] == "libssh_0.9.6"


def test_ssh1_is_reported_by_its_banners_and_a_mid_connection_capture_is_left_alone() -> None:
    old = SshSession()
    old.server_data(b"SSH-1.5-RomSShell_4.31\r\n" + bytes(64), 1.0)
    old.client_data(b"SSH-1.5-PuTTY_Release_0.58\r\n" + bytes(64), 1.0)
    [hello] = old.finish()
    assert hello.fields["ssh.server.protocol_version"] == "1.5"
    assert "ssh.server.hassh" not in hello.fields and old.take_errors() == []
    late = SshSession()  # encrypted bytes, both ways, no banner: started mid-connection
    rng = random.Random(12)
    for _ in range(20):
        late.server_data(rng.randbytes(300) + b"\n", 1.0)
    late.client_data(rng.randbytes(300), 1.0)
    assert late.finish() == [] and late.take_errors() == []
    odd = SshSession()  # a client that spoke SSH, a server that never answers with a banner
    odd.client_data(b"SSH-2.0-OpenSSH_9.2p1\r\n", 1.0)
    for _ in range(20):
        odd.server_data(b"Welcome\r\n", 1.0)
    assert [reason for reason, _ in odd.take_errors()] == ["ssh-no-banner"]
