"""A benign day of city traffic and logs: the baseline every rule must stay quiet on.

VMS servers pull streams from cameras of both districts and discover cameras with ONVIF,
operators log in to the VMS at shift change (06:00, 14:00 and 22:00 Vietnam time) and use
the e-government portal, the SCADA server polls the flood-control PLCs, the bastion opens
SSH sessions, DNS and HTTP look ordinary, the sensor reports flows, DNS and TLS but no
alerts. Deterministic: the same events every run.
"""

from __future__ import annotations

import json
import random
import struct
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import UDP

from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.packets.pcap import read_pcap
from collectors.sources.eve import parse_eve_line
from collectors.sources.syslog import parse_syslog
from collectors.stats import CollectorStats
from scenarios import sshcraft
from scenarios.packetcraft import Capture, Turn, frame

DAY = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
VMS, SCADA, RESOLVER, PORTAL, BASTION = (
    "10.20.0.10",
    "10.20.0.30",
    "10.50.0.53",
    "10.10.0.20",
    "10.60.0.5",
)
PLCS = ("10.40.0.5", "10.40.0.6", "10.40.0.7")
CAMERAS = tuple(f"10.31.0.{i}" for i in range(11, 31)) + tuple(
    f"10.32.0.{i}" for i in range(12, 32)
)
OPERATORS = ("10.20.0.101", "10.20.0.102", "10.20.0.103")
NAMES = (
    "portal.hochiminhcity.gov.vn.example",
    "dichvucong.hochiminhcity.gov.vn.example",
    "ntp.hochiminhcity.gov.vn.example",
    "vms.ioc.hochiminhcity.gov.vn.example",
)
SHIFT_CHANGES_UTC = (23, 7, 15)  # 06:00, 14:00, 22:00 in Vietnam (UTC+7)


def _at(hour: float) -> float:
    return (DAY + timedelta(hours=hour)).timestamp()


def _rtsp(method: str, url: str, cseq: int) -> bytes:
    auth = "Authorization: Basic dm1zLXN2Yzpub3QtdGhlLXJlYWwtb25l\r\n"
    agent = "User-Agent: CitySOC-VMS/4.2\r\n"
    return f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{auth}{agent}\r\n".encode()


def _stream_pulls(cap: Capture) -> None:
    for n, camera in enumerate(CAMERAS):
        url = f"rtsp://{camera}:554/Streaming/Channels/101"
        turns: list[Turn] = []
        for cseq, method in enumerate(("OPTIONS", "DESCRIBE", "SETUP", "PLAY"), start=1):
            turns += [
                ("c", _rtsp(method, url, cseq)),
                ("s", f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode()),
            ]
        cap.tcp(VMS, (camera, 554), _at(0.05 + n * 0.01), turns, ending="open")


def _dns_and_web(cap: Capture) -> None:
    rng = cap.rng
    for i in range(120):
        when, name, client = _at(6 + i * 0.1), NAMES[i % len(NAMES)], OPERATORS[i % 3]
        qid, port = rng.getrandbits(16), cap.ephemeral_port()
        query = DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype="A"))
        answer = DNS(
            id=qid,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname=name, qtype="A"),
            an=DNSRR(rrname=name, type="A", ttl=300, rdata=PORTAL),
        )
        cap.add([frame(client, RESOLVER, UDP(sport=port, dport=53) / query, when)])
        cap.add([frame(RESOLVER, client, UDP(sport=53, dport=port) / answer, when + 0.001)])
        if i % 3 == 0:
            path = ("/dich-vu-cong?ma=" + str(100 + i), "/tin-tuc", "/lien-he")[i % 3 // 1 % 3]
            agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: {agent}\r\n"
                "Accept: text/html\r\n\r\n"
            ).encode()
            reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
            cap.tcp(client, (PORTAL, 80), when + 0.01, [("c", request), ("s", reply)])


def _modbus_polls(cap: Capture) -> None:
    for n, plc in enumerate(PLCS):
        turns: list[Turn] = []
        for tid in range(1, 25):
            turns.append(("c", struct.pack("!HHHBBHH", tid, 0, 6, 1, 3 if tid % 2 else 4, 0, 8)))
            values = struct.pack("!8H", *range(100 + tid, 108 + tid))
            turns.append(
                (
                    "s",
                    struct.pack(
                        "!HHHBBB", tid, 0, 3 + len(values), 1, 3 if tid % 2 else 4, len(values)
                    )
                    + values,
                )
            )
        cap.tcp(SCADA, (plc, 502), _at(1 + n), turns)


def _ssh_sessions(cap: Capture) -> None:
    for n, server in enumerate(("10.10.1.5", "10.10.2.5", "10.20.0.10", "10.50.0.10")):
        # a key exchange, a login and a short shell session; seeded from the capture's
        # generator, drawn as before so that the traffic after it keeps its bytes
        ssh_rng = random.Random(b"".join(cap.rng.randbytes(64) for _ in range(6)))  # noqa: S311
        turns: list[Turn] = sshcraft.handshake(ssh_rng)
        turns += sshcraft.password_login(ssh_rng, 1, success=True)
        cap.tcp(BASTION, (server, 22), _at(9 + n * 0.5), turns)


def baseline_capture() -> Capture:
    cap = Capture(rng=random.Random(11930))  # noqa: S311 - reproducible synthetic traffic
    _stream_pulls(cap)
    _dns_and_web(cap)
    _modbus_polls(cap)
    _ssh_sessions(cap)
    return cap


def syslog_lines() -> Iterator[str]:
    """Operators at shift change, key-based SSH from the bastion, VMS polling cameras."""
    users = ("op.nguyen", "op.tran", "op.le", "op.pham", "op.vo", "op.dang")
    for shift, hour in enumerate(SHIFT_CHANGES_UTC):
        for k in range(2):
            user, src = users[(2 * shift + k) % len(users)], OPERATORS[k]
            stamp = (DAY + timedelta(hours=hour, minutes=-5 + 3 * k)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            )
            yield (
                f"<134>1 {stamp} ioc-vms-01 vms-audit - - - action=login result=success "
                f"user={user} src={src} console=desk-{k + 1}"
            )
    for n in range(4):
        stamp = (DAY + timedelta(hours=9, minutes=30 * n)).strftime("%b %d %H:%M:%S")
        yield (
            f"<38>{stamp} dc-app-01 sshd[{4100 + n}]: Accepted publickey for deploy from "
            f"{BASTION} port {41000 + n} ssh2: ED25519 SHA256:baselinekeyfingerprint"
        )
    for n, camera in enumerate(("cam-q1-0011", "cam-q1-0021", "cam-q1-0033")):
        stamp = (DAY + timedelta(hours=3, minutes=n)).strftime("%b %d %H:%M:%S")
        login = f"[Operation] Remote: Login, User: vms-svc, IP: {VMS}"
        yield f"<134>{stamp} {camera} HIKVISION: {login}"


def eve_lines() -> Iterator[str]:
    """Sensor records of ordinary traffic: flows, DNS, TLS and stats; no alerts."""
    for n in range(30):
        ts = (DAY + timedelta(hours=10, seconds=37 * n)).strftime("%Y-%m-%dT%H:%M:%S.000000+0000")
        client = OPERATORS[n % 3]
        common = {"timestamp": ts, "proto": "TCP"}
        tls = {"sni": NAMES[n % 2], "version": "TLS 1.3"}
        yield json.dumps(
            {
                **common,
                "flow_id": 900000 + n,
                "event_type": "tls",
                "src_ip": client,
                "src_port": 50000 + n,
                "dest_ip": PORTAL,
                "dest_port": 443,
                "tls": tls,
            }
        )
        flow = {
            "pkts_toserver": 10,
            "pkts_toclient": 10,
            "bytes_toserver": 700,
            "bytes_toclient": 820,
            "state": "closed",
        }
        yield json.dumps(
            {
                **common,
                "flow_id": 910000 + n,
                "event_type": "flow",
                "src_ip": SCADA,
                "src_port": 40000 + n,
                "dest_ip": PLCS[n % 3],
                "dest_port": 502,
                "app_proto": "modbus",
                "flow": flow,
            }
        )


def baseline_events() -> list[Event]:
    """Every baseline record through the real parsers (not yet enriched)."""
    stats = CollectorStats()
    events: list[Event] = []
    with tempfile.TemporaryDirectory(prefix="citysoc-baseline-") as folder:
        pcap = Path(folder) / "baseline.pcap"
        baseline_capture().write(pcap)
        events += list(read_pcap(pcap, stats))
    for n, line in enumerate(syslog_lines(), start=1):
        events.append(
            parse_syslog(line, Location("baseline-syslog", line=n), stats, received=DAY.timestamp())
        )
    for n, line in enumerate(eve_lines(), start=1):
        event = parse_eve_line(line, Location("baseline-eve", line=n), stats)
        if event is not None:
            events.append(event)
    if stats.errors:
        raise CollectorError(f"the baseline must parse cleanly: {dict(stats.errors)}")
    return events
