"""Deterministic demo traffic for the example city (Ho Chi Minh City), written as pcap files.

Nothing here sends a packet: scapy only builds frames, which are written to a file. The
same code gives the same bytes on every run (fixed base time, fixed random seed, explicit
MAC addresses), so the bundled samples can be checked against a fresh generation.

The demo scenario (see :func:`write_demo_pcap`):

* benign: the IOC VMS pulls RTSP from two cameras, then RTP media flows; operators use the
  e-government portal over HTTP; the VMS resolves the portal's name; the SCADA server polls
  a flood-control PLC over Modbus/TCP; the bastion opens an SSH session to an app server;
* attack 1: RTSP Basic-auth brute force against a District 1 camera;
* attack 2: Hikvision CVE-2021-36260 command injection against a Tan Binh camera;
* attack 3: a compromised Tan Binh camera scans camera networks for Telnet, Mirai-style;
* benign: the VMS discovers ONVIF cameras (a WS-Discovery probe, two probe matches);
* suspicious: an IOC operator workstation (not the engineering host) writes to the
  flood-control PLC over Modbus/TCP: one register write accepted, one refused.

Regenerate the bundled samples with ``python -m scenarios.generator collectors/samples``.
"""

from __future__ import annotations

import base64
import logging
import random
import struct
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import UDP
from scapy.packet import Raw

from collectors import SAMPLES
from scenarios import sshcraft
from scenarios.packetcraft import (
    ROUTER_MAC,
    SEED,
    Capture,
    Direction,
    Ending,
    Turn,
    frame,
    mac_for,
    pcap_records,
    tcp_conversation,
    write_truncated_pcap,
)

__all__ = [
    "ROUTER_MAC",
    "SEED",
    "Capture",
    "Direction",
    "Ending",
    "Turn",
    "demo_capture",
    "frame",
    "mac_for",
    "pcap_records",
    "tcp_conversation",
    "write_demo_pcap",
    "write_truncated_pcap",
]

log = logging.getLogger(__name__)

BASE_EPOCH = datetime(2026, 11, 20, 2, 0, 0, tzinfo=UTC).timestamp()

VMS = "10.20.0.10"
SCADA = "10.20.0.30"
PLC = "10.40.0.5"
PORTAL = "10.10.0.20"
RESOLVER = "10.50.0.53"
BASTION = "10.60.0.5"
APP_SERVER = "10.10.1.5"
BRUTE_FORCER = "203.0.113.50"
BRUTE_TARGET = "10.31.0.21"
EXPLOITER = "203.0.113.77"
EXPLOIT_TARGET = "10.32.1.15"
INFECTED_CAMERA = "10.32.0.66"
OPERATOR_WORKSTATION = "10.20.0.102"
WSD_GROUP = "239.255.255.250"
ONVIF_CAMERAS = (("10.31.0.11", "cam-q1-0011"), ("10.32.0.12", "cam-tb-0012"))
PORTAL_NAME = "portal.hochiminhcity.gov.vn.example"
BRUTE_PASSWORDS = (
    "Hik12345!",
    "Passw0rd!",
    "camera2020",
    "Admin@123",
    "hcmc1022",
    "vms-pass7",
    "letmein99",
    "qwerty!@#",
)
VMS_PASSWORD = "VmsSvc#2026"  # noqa: S105 - synthetic credential inside demo packets
EXPLOIT_BODY = b'<?xml version="1.0" encoding="UTF-8"?><language>$(id>webLib/x)</language>'


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _rtsp_request(method: str, url: str, cseq: int, extra: str = "") -> bytes:
    auth = f"Authorization: Basic {_basic('vms-svc', VMS_PASSWORD)}\r\n"
    ua = "User-Agent: CitySOC-VMS/4.2 (LIVE555 Streaming Media v2020.08.19)\r\n"
    return f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{auth}{ua}{extra}\r\n".encode()


def _rtsp_ok(cseq: int, extra: str = "", body: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}{length}\r\n{body}".encode()


def _add_rtsp_pull(cap: Capture, camera: str, start: float, media_port: int) -> None:
    url = f"rtsp://{camera}:554/Streaming/Channels/101"
    sdp = (
        "v=0\r\no=- 0 0 IN IP4 " + camera + "\r\ns=Media Presentation\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
    )
    transport = f"Transport: RTP/AVP;unicast;client_port={media_port}-{media_port + 1}\r\n"
    server_transport = transport.rstrip("\r\n") + ";server_port=6970-6971\r\n"
    session = "Session: 4E3A1B2C;timeout=60\r\n"
    turns: list[Turn] = [
        ("c", _rtsp_request("OPTIONS", url, 1)),
        ("s", _rtsp_ok(1, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n")),
        ("c", _rtsp_request("DESCRIBE", url, 2, "Accept: application/sdp\r\n")),
        ("s", _rtsp_ok(2, "Content-Type: application/sdp\r\n", sdp)),
        ("c", _rtsp_request("SETUP", url + "/trackID=1", 3, transport)),
        ("s", _rtsp_ok(3, server_transport + session)),
        ("c", _rtsp_request("PLAY", url, 4, "Session: 4E3A1B2C\r\nRange: npt=0.000-\r\n")),
        ("s", _rtsp_ok(4, session)),
    ]
    cap.tcp(VMS, (camera, 554), start, turns, ending="open")
    when = start + 0.2
    ssrc = cap.rng.getrandbits(32)
    for n in range(20):
        header = struct.pack(
            "!BBHII", 0x80, 96 | (0x80 if n % 5 == 4 else 0), 1000 + n, 90000 + 3000 * n, ssrc
        )
        payload = header + cap.rng.randbytes(160)
        cap.add([frame(camera, VMS, UDP(sport=6970, dport=media_port) / Raw(payload), when)])
        when += 0.033
    rtcp = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0, 0, 90000, 20, 3200)
    cap.add([frame(camera, VMS, UDP(sport=6971, dport=media_port + 1) / Raw(rtcp), when)])


def _add_benign(cap: Capture, base: float) -> None:
    _add_rtsp_pull(cap, "10.31.0.11", base + 1.0, 50000)
    _add_rtsp_pull(cap, "10.32.0.12", base + 3.0, 50002)
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/128.0 Safari/537.36"
    page = b"<html><body>Dich vu cong truc tuyen</body></html>"
    for i, operator in enumerate(("10.20.0.101", "10.20.0.102", "10.20.0.101")):
        request = (
            f"GET /dich-vu-cong?ma=123 HTTP/1.1\r\nHost: {PORTAL_NAME}\r\n"
            f"User-Agent: {ua}\r\nAccept: text/html\r\n\r\n"
        ).encode()
        response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            + f"Content-Length: {len(page)}\r\n\r\n".encode()
            + page
        )
        cap.tcp(operator, (PORTAL, 80), base + 10.0 + 20 * i, [("c", request), ("s", response)])
    for i in range(3):
        when = base + 9.0 + 20 * i
        port, qid = cap.ephemeral_port(), cap.rng.getrandbits(16)
        query = DNS(id=qid, rd=1, qd=DNSQR(qname=PORTAL_NAME, qtype="A"))
        answer = DNS(
            id=qid,
            qr=1,
            aa=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname=PORTAL_NAME, qtype="A"),
            an=DNSRR(rrname=PORTAL_NAME, type="A", ttl=300, rdata=PORTAL),
        )
        cap.add([frame(VMS, RESOLVER, UDP(sport=port, dport=53) / query, when)])
        cap.add([frame(RESOLVER, VMS, UDP(sport=53, dport=port) / answer, when + 0.0012)])
    modbus: list[Turn] = []
    for tid in range(1, 6):
        modbus.append(("c", struct.pack("!HHHBBHH", tid, 0, 6, 1, 3, 0, 4)))
        values = struct.pack("!4H", 120 + tid, 35, 1, 0)
        modbus.append(
            ("s", struct.pack("!HHHBBB", tid, 0, 3 + len(values), 1, 3, len(values)) + values)
        )
    cap.tcp(SCADA, (PLC, 502), base + 5.0, modbus)
    # banners, key exchange, the first encrypted round trip (the capture ends there); seeded
    # from the capture's generator, drawn as before so that later traffic keeps its bytes
    seed = b"".join(cap.rng.randbytes(48 + 16 * n) for n in range(6))
    ssh_rng = random.Random(seed)  # noqa: S311
    ssh = sshcraft.handshake(ssh_rng)
    ssh += sshcraft.password_login(ssh_rng, 0, success=False)[:2]
    cap.tcp(BASTION, (APP_SERVER, 22), base + 30.0, ssh)


def _add_rtsp_bruteforce(cap: Capture, start: float) -> None:
    url = f"rtsp://{BRUTE_TARGET}:554/Streaming/Channels/101"
    for i, password in enumerate(BRUTE_PASSWORDS):
        request = (
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: {i + 2}\r\n"
            f"Authorization: Basic {_basic('admin', password)}\r\n"
            "User-Agent: LibVLC/3.0.8 (LIVE555 Streaming Media v2016.11.28)\r\n"
            "Accept: application/sdp\r\n\r\n"
        ).encode()
        reply = (
            f"RTSP/1.0 401 Unauthorized\r\nCSeq: {i + 2}\r\n"
            'WWW-Authenticate: Basic realm="IP Camera"\r\n\r\n'
        ).encode()
        cap.tcp(BRUTE_FORCER, (BRUTE_TARGET, 554), start + 2.4 * i, [("c", request), ("s", reply)])


def _add_hikvision_exploit(cap: Capture, start: float) -> None:
    request = (
        f"PUT /SDK/webLanguage HTTP/1.1\r\nHost: {EXPLOIT_TARGET}\r\n"
        "User-Agent: python-requests/2.25.1\r\nAccept: */*\r\n"
        "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
        f"Content-Length: {len(EXPLOIT_BODY)}\r\n\r\n"
    ).encode() + EXPLOIT_BODY
    reply = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
    cap.tcp(EXPLOITER, (EXPLOIT_TARGET, 80), start, [("c", request), ("s", reply)])


def telnet_scan_targets() -> list[str]:
    """The 30 addresses the infected camera probes: 15 in District 1, 15 in Tan Binh."""
    d1 = [f"10.31.{i % 4}.{40 + 7 * i}" for i in range(15)]
    tanbinh = [f"10.32.{i % 8}.{17 + 11 * i}" for i in range(15)]
    return [addr for pair in zip(d1, tanbinh, strict=True) for addr in pair]


TELNET_REFUSING = frozenset({2, 9, 17, 25})  # indexes of targets answering with RST
TELNET_OPEN = frozenset({5, 21})  # indexes of targets completing the handshake


def _add_telnet_scan(cap: Capture, start: float) -> None:
    guess: list[Turn] = [
        ("s", b"\xff\xfd\x18\xff\xfd\x20\r\nlogin: "),
        ("c", b"admin\r\n"),
        ("s", b"Password: "),
        ("c", b"admin\r\n"),
        ("s", b"\r\nLogin incorrect\r\nlogin: "),
    ]
    for i, target in enumerate(telnet_scan_targets()):
        when = start + 0.95 * i
        if i in TELNET_OPEN:
            cap.tcp(INFECTED_CAMERA, (target, 23), when, guess, ending="fin")
        elif i in TELNET_REFUSING:
            cap.tcp(INFECTED_CAMERA, (target, 23), when, [], ending="refused")
        else:
            cap.tcp(INFECTED_CAMERA, (target, 23), when, [], ending="unanswered")


WSD_NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
)
WSD_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _soap(action: str, message_id: str, body: str, relates_to: str = "") -> bytes:
    relates = f"<a:RelatesTo>{relates_to}</a:RelatesTo>" if relates_to else ""
    to = (
        "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
        if not relates_to
        else ("http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous")
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {WSD_NS}><s:Header>'
        f"<a:Action>{WSD_ACTION}{action}</a:Action><a:MessageID>{message_id}</a:MessageID>"
        f"{relates}<a:To>{to}</a:To></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _add_onvif_discovery(cap: Capture, start: float) -> None:
    port, probe_id = cap.ephemeral_port(), _uuid(cap.rng)
    probe = "<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>"
    cap.add(
        [
            frame(
                VMS, WSD_GROUP, UDP(sport=port, dport=3702) / _soap("Probe", probe_id, probe), start
            )
        ]
    )
    for i, (camera, name) in enumerate(ONVIF_CAMERAS):
        match = (
            "<d:ProbeMatches><d:ProbeMatch><a:EndpointReference>"
            f"<a:Address>{_uuid(cap.rng)}</a:Address></a:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
            "<d:Scopes>onvif://www.onvif.org/type/video_encoder "
            f"onvif://www.onvif.org/name/{name} onvif://www.onvif.org/location/city/hcmc</d:Scopes>"
            f"<d:XAddrs>http://{camera}/onvif/device_service</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
        )
        reply = _soap("ProbeMatches", _uuid(cap.rng), match, relates_to=probe_id)
        when = start + 0.05 + 0.03 * i
        cap.add([frame(camera, VMS, UDP(sport=3702, dport=port) / Raw(reply), when)])


def _add_modbus_write(cap: Capture, start: float) -> None:
    write_register = struct.pack("!HHHBBHH", 1, 0, 6, 1, 6, 40, 0)  # pump 1 setpoint := 0
    values = struct.pack("!2H", 0, 0)
    write_many = struct.pack("!HHHBBHHB", 2, 0, 7 + len(values), 1, 16, 900, 2, 4) + values
    refused = struct.pack("!HHHBBB", 2, 0, 3, 1, 0x90, 2)  # illegal data address
    turns: list[Turn] = [
        ("c", write_register),
        ("s", write_register),  # a write single register response echoes the request
        ("c", write_many),
        ("s", refused),
    ]
    cap.tcp(OPERATOR_WORKSTATION, (PLC, 502), start, turns)


def demo_capture() -> Capture:
    """The whole demo scenario, in memory."""
    cap = Capture()
    _add_benign(cap, BASE_EPOCH)
    _add_rtsp_bruteforce(cap, BASE_EPOCH + 180.0)
    _add_hikvision_exploit(cap, BASE_EPOCH + 190.123)
    _add_telnet_scan(cap, BASE_EPOCH + 300.0)
    _add_onvif_discovery(cap, BASE_EPOCH + 0.5)
    _add_modbus_write(cap, BASE_EPOCH + 240.0)
    return cap


def write_demo_pcap(path: Path) -> int:
    """Write the demo scenario to ``path``; returns the number of packets."""
    count = demo_capture().write(path)
    log.info("wrote %d packets to %s", count, path)
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the bundled samples into the folder given (default: collectors/samples)."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else SAMPLES
    write_demo_pcap(folder / "demo-city.pcap")
    write_truncated_pcap(folder / "demo-city.pcap", folder / "demo-city-truncated.pcap")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
