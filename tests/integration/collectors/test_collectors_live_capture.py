"""Live capture on a veth pair between two network namespaces this test creates and removes.

Namespace A holds a "camera" (10.31.0.11: RTSP on 554 refusing the login, HTTP on 80, Telnet
port 23 closed); namespace B the "VMS" (10.20.0.10). Each address has only a host route to
its peer: nothing can leave the pair. The capture runs in A through ``ip netns exec``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from collectors.sources.live import LiveCapture, LiveOptions, capture_filter
from collectors.stats import CollectorStats
from eventstore.sqlite import SqliteEventStore

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("tshark") is None, reason="live capture needs tshark"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip"),
]

CAMERA, VMS = "10.31.0.11", "10.20.0.10"
SERVERS = r"""
import socket, sys, threading
def serve(port, reply):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.31.0.11", port)); s.listen(4); s.settimeout(20)
    conn, _ = s.accept(); conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk: break
        data += chunk
    conn.sendall(reply); conn.close(); s.close()
rtsp = b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n'
http = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
threads = [threading.Thread(target=serve, args=a) for a in ((554, rtsp), (80, http))]
[t.start() for t in threads]
print("ready", flush=True)
[t.join() for t in threads]
"""
CLIENT = r"""
import base64, socket
def talk(port, request):
    s = socket.create_connection(("10.31.0.11", port), timeout=5)
    s.sendall(request); reply = b""
    while True:
        chunk = s.recv(4096)
        if not chunk: break
        reply += chunk
    s.close()
auth = base64.b64encode(b"admin:Live-Secret-9").decode()
talk(554, ("DESCRIBE rtsp://10.31.0.11:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 2\r\n"
           "Authorization: Basic " + auth + "\r\nUser-Agent: LibVLC/3.0.8\r\n\r\n").encode())
talk(80, b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: 10.31.0.11\r\nConnection: close\r\n\r\n")
try:
    socket.create_connection(("10.31.0.11", 23), timeout=5)
except ConnectionRefusedError:
    pass
"""


@dataclass(frozen=True)
class Pair:
    camera_ns: str
    vms_ns: str
    camera_if: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def pair() -> Iterator[Pair]:
    token = uuid.uuid4().hex[:6]
    a, b = f"citysoc-live-{token}-cam", f"citysoc-live-{token}-vms"
    veth_a, veth_b = f"cslv{token}a", f"cslv{token}b"
    try:
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", veth_a, "netns", a, "type", "veth", "peer", "name", veth_b, "netns", b)
        for ns, dev, here, there in ((a, veth_a, CAMERA, VMS), (b, veth_b, VMS, CAMERA)):
            ip("-n", ns, "addr", "add", here, "peer", there, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        wait_until_up(a, veth_a)
        wait_until_up(b, veth_b)
        yield Pair(a, b, veth_a)
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def wait_until_up(ns: str, dev: str) -> None:
    for _ in range(100):
        state = subprocess.run(
            ["ip", "-n", ns, "-br", "link", "show", "dev", dev],
            capture_output=True,
            text=True,
            check=True,
        )
        if " UP " in state.stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"{dev} in {ns} did not come up: {state.stdout}")


def in_ns(ns: str, script: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-c", script]


def test_live_capture_between_namespaces(pair: Pair) -> None:
    servers = subprocess.Popen(in_ns(pair.camera_ns, SERVERS), stdout=subprocess.PIPE, text=True)
    try:
        assert servers.stdout is not None and servers.stdout.readline().strip() == "ready"
        stats = CollectorStats()
        options = LiveOptions(pair.camera_if, bpf="tcp", netns=pair.camera_ns)
        capture = LiveCapture(options, stats)
        capture.start()
        events: list[Event] = []
        reader = threading.Thread(target=lambda: events.extend(capture.events()))
        reader.start()
        subprocess.run(in_ns(pair.vms_ns, CLIENT), check=True, timeout=30)
        servers.wait(20)
        capture.stop()
        reader.join(20)
        assert not reader.is_alive()
    finally:
        if servers.poll() is None:
            servers.kill()
    assert stats.received > 0, capture.messages
    flows = {e["destination.port"]: e for e in events if e["event.dataset"].endswith(".flow")}
    assert set(flows) == {554, 80, 23}
    assert flows[554]["event.outcome"] == flows[80]["event.outcome"] == "success"
    assert flows[23]["event.outcome"] == "failure" and flows[23]["network.protocol"] == "telnet"
    assert all(f["source.ip"] == VMS and f["destination.ip"] == CAMERA for f in flows.values())
    (rtsp,) = [e for e in events if e["event.dataset"] == "network_traffic.rtsp"]
    assert rtsp["rtsp.response.status_code"] == 401 and rtsp["user.name"] == "admin"
    (http,) = [e for e in events if e["event.dataset"] == "network_traffic.http"]
    assert http["url.path"] == "/ISAPI/System/deviceInfo"
    assert http["http.response.status_code"] == 200
    assert "Live-Secret-9" not in " ".join(str(v) for e in events for v in e.values())
    assert stats.errors == {} and stats.received == stats.parsed > 0


def test_capture_filter_leaves_out_media_unless_asked() -> None:
    assert capture_filter(None, include_media=False) is not None
    assert "udp[8] & 0xc0 = 0x80" in str(capture_filter("port 554", include_media=False))
    assert str(capture_filter("port 554", include_media=False)).startswith("(port 554) and")
    assert capture_filter("port 554", include_media=True) == "port 554"
    assert capture_filter(None, include_media=True) is None


def test_collect_iface_command_stops_after_count(pair: Pair, tmp_path: Path) -> None:
    env = {**os.environ, "CITYSOC_DATA_DIR": str(tmp_path / "var")}
    command = [sys.executable, "-m", "citysoc.cli.main", "collect", "iface", pair.camera_if]
    command += ["--netns", pair.camera_ns, "--bpf", "tcp port 23", "--count", "2"]
    collector = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    knock = "import socket\ntry: socket.create_connection(('10.31.0.11', 23), timeout=2)\n"
    knock += "except OSError: pass\n"
    try:
        for _ in range(60):  # knock until the collector has its two packets and exits
            subprocess.run(in_ns(pair.vms_ns, knock), check=True, timeout=10)
            if collector.poll() is not None:
                break
            time.sleep(0.5)
        out, _ = collector.communicate(timeout=30)
    finally:
        if collector.poll() is None:
            collector.kill()
    assert collector.returncode == 0
    figures = json.loads(out.strip().splitlines()[-1].partition(": ")[2])
    assert figures["received"] == 2 and figures["stored"] == 1
    with SqliteEventStore(tmp_path / "var" / "events.db") as store:
        (flow,) = store.recent(limit=5)
    assert flow["destination.port"] == 23 and flow["event.outcome"] == "failure"
    assert flow["citysoc.destination.segment"] == "cam-d1"
