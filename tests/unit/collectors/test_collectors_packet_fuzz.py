"""Property tests: hostile frames never raise anything but the counted packet errors."""

from __future__ import annotations

import json
import random
import uuid

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysoc.core.ecs_reference import problems
from collectors.packets.flows import SESSIONS
from collectors.packets.netbios import FRAME_MAX
from collectors.packets.packet import (
    MalformedPacketError,
    SkippedPacketError,
    _ethernet_ipv4,
    decode,
)
from collectors.packets.pcap import PacketEngine
from collectors.packets.rdp import TPKT_MAX, RdpSession
from collectors.packets.smb import SmbSession
from collectors.packets.ssh import SshSession
from collectors.packets.sshkex import MAX_PACKET
from collectors.packets.wsdiscovery import wsdiscovery_fields
from collectors.sources.pcapfile import iter_records
from collectors.stats import CollectorStats
from scenarios import generator, sshcraft, windowscraft

DEMO = generator.SAMPLES / "demo-city.pcap"
FRAMES = [r.data for r in iter_records(DEMO, CollectorStats())]
LINKTYPES = st.sampled_from([0, 1, 12, 101, 113, 228, 229, 276, 9999])
SCALARS = (str, int, float, bool)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A real frame of the demo capture with some bytes changed, cut or extended."""
    data = bytearray(draw(st.sampled_from(FRAMES)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=40))


@settings(max_examples=400, deadline=None, database=None)
@given(LINKTYPES, st.binary(max_size=200))
def test_decode_raises_only_counted_errors(linktype: int, data: bytes) -> None:
    try:
        decode(linktype, data)
    except (MalformedPacketError, SkippedPacketError) as exc:
        assert exc.reason


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutated_frames(), min_size=1, max_size=40))
def test_engine_survives_mutated_real_packets(frames: list[bytes]) -> None:
    stats = CollectorStats()
    engine = PacketEngine(stats)
    events = []
    for n, frame in enumerate(frames):
        events += list(engine.record(1, frame, generator.BASE_EPOCH + n * 0.01, len(frame), n + 1))
    events += list(engine.finish())
    assert stats.parsed + sum(stats.errors.values()) + sum(stats.skipped.values()) >= len(frames)
    for event in events:
        assert all(isinstance(v, SCALARS) for v in event.values()), event
        json.dumps(event)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.sampled_from(["http", "rtsp", "modbus", "ssh", "telnet", "smb", "rdp"]),
    st.lists(st.tuples(st.booleans(), st.binary(max_size=120)), max_size=12),
)
def test_sessions_never_raise_on_hostile_streams(
    protocol: str, chunks: list[tuple[bool, bytes]]
) -> None:
    session = SESSIONS[protocol]()
    records = []
    for from_client, chunk in chunks:
        feed = session.client_data if from_client else session.server_data
        records += feed(chunk, generator.BASE_EPOCH)
    records += session.finish()
    for record in records:
        for value in record.fields.values():  # scalars, or arrays of them (ECS categories)
            assert isinstance(value, SCALARS) or all(isinstance(v, SCALARS) for v in value)


def _ssh_stream() -> list[tuple[bool, bytes]]:
    rng = random.Random(16)
    turns = sshcraft.handshake(rng) + sshcraft.password_login(rng, 2, success=True)
    return [(side == "c", data) for side, data in turns]


SSH_STREAM = _ssh_stream()


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_ssh_decoder_survives_mutated_key_exchanges(data: st.DataObject) -> None:
    """A real SSH conversation (banners, KEXINITs, ECDH, NEWKEYS, encrypted records) with
    bytes changed, cut, split or dropped: only counted faults, bounded buffers, ECS values."""
    session = SshSession()
    records = []
    for from_client, chunk in SSH_STREAM:
        mutated = bytearray(chunk)
        for _ in range(data.draw(st.integers(0, 3))):
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
        cut = data.draw(st.integers(0, len(mutated)))
        feed = session.client_data if from_client else session.server_data
        records += feed(bytes(mutated[:cut]), generator.BASE_EPOCH)
        records += feed(bytes(mutated[cut:]), generator.BASE_EPOCH + 0.1)
        assert all(side.reader.pending <= 4 + MAX_PACKET + len(chunk) for side in session.sides)
    session.ended(data.draw(st.sampled_from([None, 0, 1])), generator.BASE_EPOCH + 1)
    records += session.finish()
    assert all(reason.startswith("ssh-") and detail for reason, detail in session.take_errors())
    assert len(records) <= 2
    for record in records:
        assert problems(record.fields) == [], record
        for value in record.fields.values():
            assert isinstance(value, SCALARS) or all(isinstance(v, SCALARS) for v in value)


def _windows_streams() -> dict[str, list[tuple[bool, bytes]]]:
    w, nb = windowscraft, windowscraft.netbios
    guid = uuid.UUID(int=0x1F)
    challenge = w.ntlm_challenge({1: "FS", 2: "HCMC", 3: "fs.hcmc.example"})
    smb = [
        (True, nb(w.negotiate_request([0x0202, 0x0311], client_guid=guid, netname="fs",
                                      ciphers=(2,)))),
        (False, nb(w.negotiate_response(0x0311, server_guid=guid, signing_required=True,
                                        cipher=2))),
        (True, nb(w.session_setup_request(w.spnego_init(w.ntlm_negotiate())))),
        (False, nb(w.session_setup_response(w.MORE_PROCESSING, w.spnego_response(challenge)))),
        (True, nb(w.session_setup_request(w.ntlm_authenticate("u", "HCMC", "WS")))),
        (False, nb(w.session_setup_response(0))),
        (True, nb(w.tree_connect_request("\\\\fs\\share"))),
        (False, nb(w.tree_connect_response())),
    ]  # fmt: skip
    smb1 = [(True, nb(w.smb1_negotiate_request(["LANMAN1.0", "NT LM 0.12"]))),
            (False, nb(w.smb1_negotiate_response(1)))]  # fmt: skip
    rdp = [
        (True, w.connection_request(cookie="HCMC\\op", protocols=0)),
        (False, w.connection_confirm(selected=0)),
        (True, w.mcs_connect_initial("WS-01")),
    ]
    credssp = [
        (True, w.connection_request(cookie="op")),
        (False, w.connection_confirm()),
        (True, b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00"),
    ]
    ticket = w.kerberos_ap_req("HCMC.EXAMPLE", ["cifs", "fs.hcmc.example"])
    kerberos = [*smb[:2], (True, nb(w.session_setup_request(w.spnego_kerberos(ticket)))),
                (False, nb(w.session_setup_response(0)))]  # fmt: skip
    return {"smb": smb, "smb-smb1": smb1, "smb-kerberos": kerberos, "rdp": rdp,
            "rdp-credssp": credssp}  # fmt: skip


WINDOWS_STREAMS = _windows_streams()


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(sorted(WINDOWS_STREAMS)), st.data())
def test_smb_and_rdp_decoders_survive_mutated_sessions(name: str, data: st.DataObject) -> None:
    """Real SMB and RDP session starts with bytes changed, cut or split: only counted faults,
    bounded buffers, ECS values."""
    session = SmbSession() if name.startswith("smb") else RdpSession()
    records = []
    for from_client, chunk in WINDOWS_STREAMS[name]:
        mutated = bytearray(chunk)
        for _ in range(data.draw(st.integers(0, 3))):
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
        cut = data.draw(st.integers(0, len(mutated)))
        feed = session.client_data if from_client else session.server_data
        records += feed(bytes(mutated[:cut]), generator.BASE_EPOCH)
        records += feed(bytes(mutated[cut:]), generator.BASE_EPOCH + 0.1)
        limit = (FRAME_MAX if isinstance(session, SmbSession) else TPKT_MAX) + 4 + len(chunk)
        assert all(len(side.buffer) <= limit for side in session.sides)
    records += session.finish()
    errors = session.take_errors()
    assert all(reason in ("smb-malformed", "rdp-malformed") and detail for reason, detail in errors)
    for record in records:
        assert problems(record.fields) == [], record
        for value in record.fields.values():
            assert isinstance(value, SCALARS) or all(isinstance(v, SCALARS) for v in value)


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_wsdiscovery_raises_only_value_error(payload: bytes) -> None:
    envelope = b"<s:Envelope><s:Body>" + payload + b"</s:Body></s:Envelope>"
    for data in (payload, envelope):
        try:
            fields = wsdiscovery_fields(data)
        except ValueError:
            continue
        assert all(isinstance(v, SCALARS) for v in fields.values())


@settings(max_examples=400, deadline=None, database=None)
@given(mutated_frames())
def test_ethernet_fast_path_agrees_with_the_general_decoder(frame: bytes) -> None:
    fast = _ethernet_ipv4(frame) if frame[12:15] == b"\x08\x00\x45" and len(frame) >= 54 else None
    if fast is not None:
        assert fast == decode(101, frame[14:])  # raw IP: the general IPv4 path
