"""The city in a box, for real: Debian 12 hosts booted with systemd in namespaces, converged by
Ansible over SSH through the bastion, twice (the second run changes nothing), then taken down
with nothing left behind.

After the deploy, end to end: the VMS pulls RTSP from a District 1 camera through the routers
and the sensor mirroring the camera segment stores the exchange in the engine; an attack on
that camera is captured, detected by the SOC API's schedule on the engine and read by a
District 1 analyst over HTTPS through the bastion (a Tan Binh analyst does not see it); a
denied flow is dropped by nftables and its log line read on the host that dropped it.

Slow (a first converge installs every role's packages): it runs in its own suite of
``scripts/test.sh``. It needs root, debootstrap, systemd-nspawn, nft, tc, ssh and curl, and
skips with the reason where any is missing. Traffic goes only to the namespaces it creates.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citybox import network
from citybox.box import BoxPaths, converge, down, status, up
from citybox.cgroups import BOX_GROUP, hierarchies
from citybox.hosts import leader
from citybox.plan import OPERATOR_LINK
from citybox.state import BoxState

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[3]
STACK = "hcmc-demo"
TOOLS = ("debootstrap", "systemd-nspawn", "nft", "tc", "nsenter", "ssh", "curl", "openssl")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the city in a box needs root (namespaces, mounts, systemd-nspawn)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (scripts/system-deps.sh installs them)"
    if (
        not list(Path("/etc/apt/sources.list.d").glob("*.sources"))
        and not Path("/etc/apt/sources.list").is_file()
    ):
        return "no apt sources on this machine to build the base image from"
    if network.box_namespaces():
        return "a box is already up on this machine (citysoc box down first)"
    return None


@pytest.fixture(scope="module")
def box() -> Iterator[tuple[BoxPaths, BoxState]]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    paths = BoxPaths(REPO, REPO / ".cache" / "box", STACK)
    uv = REPO / ".tools" / "bin" / "uv"
    try:
        state = up(paths, uv if uv.exists() else Path(shutil.which("uv") or "uv"))
        yield paths, state
    finally:
        before = BoxState.load(paths.state)
        down(paths)
        _assert_nothing_left(paths, before)


def _assert_nothing_left(paths: BoxPaths, before: BoxState | None) -> None:
    assert network.box_namespaces() == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert OPERATOR_LINK not in links.stdout
    mounts = Path("/proc/mounts").read_text()
    assert str(paths.cache) not in mounts
    if before is not None:
        pids = [h.pid for h in before.hosts if h.pid] + [before.server_pid or 0]
        # A process that has just been told to end may take a moment to be gone.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _all_gone(pids):
            time.sleep(0.5)
        assert _all_gone(pids), [p for p in pids if p and not _gone(p)]
    assert not paths.state.exists()
    assert not [top / BOX_GROUP for top in hierarchies() if (top / BOX_GROUP).exists()]


def _all_gone(pids: list[int]) -> bool:
    return all(_gone(pid) for pid in pids if pid)


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def _ssh(
    paths: BoxPaths, address: str, command: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    config = paths.folder / "ssh_config"
    bastion = "10.60.0.5"
    jump = [] if address == bastion else ["-J", f"citysoc-ops@{bastion}"]
    return subprocess.run(
        ["ssh", "-F", str(config), *jump, address, command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_host_boots_with_systemd(box: tuple[BoxPaths, BoxState]) -> None:
    paths, state = box
    found = status(paths)
    assert len(found) == len(state.hosts) >= 13
    assert {h.state for h in found} <= {"running", "degraded"}, found
    assert all(h.boot_seconds is not None and h.boot_seconds < 120 for h in state.hosts)


def test_each_host_keeps_its_units_in_a_cgroup_of_its_own(
    box: tuple[BoxPaths, BoxState],
) -> None:
    """No host's systemd makes its units' cgroups where another host's does."""
    _paths, state = box
    seen: dict[str, str] = {}
    for host in state.hosts:
        assert host.pid
        container = leader(host.pid)
        assert container is not None, host.name
        # "hierarchy-id:controllers:path", one line for each hierarchy
        groups = [
            line
            for line in Path(f"/proc/{container}/cgroup").read_text().splitlines()
            if line.split(":")[1] in ("", "name=systemd")
        ]
        assert groups, host.name
        for group in groups:
            assert f":/{BOX_GROUP}/{host.name}/payload/" in group, (host.name, group)
            assert group not in seen, (host.name, seen.get(group))
            seen[group] = host.name


def test_box_addresses_route_only_into_the_box(box: tuple[BoxPaths, BoxState]) -> None:
    _paths, state = box
    for host in state.hosts:
        address = host.address.split("/")[0]
        route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
        assert f"dev {OPERATOR_LINK}" in route.stdout, route.stdout
    # The edge router, the box's way to "the internet", has nowhere further to go (a lookup,
    # no packet is sent).
    lookup = subprocess.run(
        ["ip", "-n", "cbx-edge", "route", "get", "192.0.2.1"], capture_output=True, text=True
    )
    assert lookup.returncode != 0


def test_ansible_converges_every_role_and_the_second_run_changes_nothing(
    box: tuple[BoxPaths, BoxState],
) -> None:
    paths, _state = box
    first, first_seconds = converge(paths)
    assert first and not any(r.failed or r.unreachable for r in first), first
    second, second_seconds = converge(paths)
    assert not any(r.failed or r.unreachable for r in second), second
    assert {r.host: r.changed for r in second} == {r.host: 0 for r in second}
    (paths.folder / "converge-seconds.txt").write_text(
        f"first {first_seconds:.0f}\nsecond {second_seconds:.0f}\n"
    )

    services = {
        "10.50.0.40": "citysoc-api nginx chrony nftables",
        "10.50.0.10": "citysoc-syslog citysoc-eve rsyslog",
        "10.50.0.11": "citysoc-syslog citysoc-eve rsyslog",
        "10.50.0.20": "citysoc-capture@mon-dc-dmz citysoc-capture@mon-soc",
        "10.50.0.21": "citysoc-capture@mon-cam-d1 citysoc-capture@mon-ics-flood",
        "10.50.0.30": "citysoc-engine",
    }
    for address, units in services.items():
        done = _ssh(paths, address, f"systemctl is-active {units}")
        assert done.returncode == 0, (address, done.stdout, done.stderr)

    # An analyst reaches the console over HTTPS through the bastion, trusting the box's CA.
    port = _free_port()
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(paths.folder / "ssh_config"),
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            f"127.0.0.1:{port}:10.50.0.40:443",
            "10.60.0.5",
        ],
    )
    try:
        done = subprocess.run(
            [
                "curl",
                "-sS",
                "--retry",
                "10",
                "--retry-connrefused",
                "--retry-delay",
                "1",
                "--cacert",
                str(paths.folder / "tls" / "ca.crt"),
                "--resolve",
                f"soc-api-01:{port}:127.0.0.1",
                f"https://soc-api-01:{port}/health",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout.lower()


PORTAL = "10.10.0.20"  # the box's portal host, in a namespace the box made for this test
PROBE = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.settimeout(3)
try:
    s.connect((host, port))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")
"""

# Run as root on the store host (its CA is in the engine's own folder): a search through its
# TLS proxy with the account the clients use; the account and the query come on stdin, never
# on a command line. A 503 (a new data stream's first shards still starting) is asked again.
SEARCH = """
import base64, json, ssl, sys, time, urllib.error, urllib.request
given = json.loads(sys.stdin.read())
context = ssl.create_default_context(cafile="/etc/citysoc-engine/tls/ca.crt")
request = urllib.request.Request(
    "https://10.50.0.30:9200/logs-*/_search", data=json.dumps(given["query"]).encode(),
    headers={"Content-Type": "application/json",
             "Authorization": "Basic " + base64.b64encode(given["auth"].encode()).decode()})
for attempt in range(10):
    try:
        print(urllib.request.urlopen(request, context=context).read().decode())
        break
    except urllib.error.HTTPError as error:
        if error.code not in (429, 503) or attempt == 9:
            raise
        time.sleep(1)
"""


def _store_account(paths: BoxPaths) -> str:
    """The account the box gave the store's clients (from its secrets file)."""
    import yaml

    found = yaml.safe_load((paths.folder / "secrets.yml").read_text(encoding="utf-8"))
    return f"{found['citysoc_event_store_username']}:{found['citysoc_event_store_password']}"


def _query(paths: BoxPaths, query: dict[str, Any]) -> dict[str, Any]:
    given = json.dumps({"auth": _store_account(paths), "query": query})
    done = _ssh(paths, STORE, f"sudo python3 -c '{SEARCH}'", stdin=given)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _count(paths: BoxPaths, query: dict[str, Any]) -> int:
    return int(_query(paths, {"query": query, "size": 0})["hits"]["total"]["value"])


def _probe(port: int) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", "cbx-h-internet-01", "python3", "-c", PROBE, PORTAL, str(port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_an_internet_host_crosses_the_routers_and_the_sensor_ships_what_it_saw(
    box: tuple[BoxPaths, BoxState],
) -> None:
    """HTTPS to the portal crosses the edge router (refused by the portal itself: nothing
    listens), SSH to it is dropped by the router's nftables, and the DMZ's sensor captures the
    connections on its mirrored interface and writes them to the engine on the store host."""
    paths, _state = box
    if not (paths.folder / "converge-seconds.txt").exists():
        pytest.skip("the box was not converged (see the converge test)")
    assert _probe(22) == "timeout"
    for _ in range(5):
        assert _probe(443) == "refused"
        time.sleep(2.5)  # the capture ships in slices of 2 s
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and stored == 0:
        _probe(443)
        stored = _count(paths, {"term": {"source.ip": "198.51.100.10"}})
        time.sleep(3)
    assert stored > 0


SYSLOG = """
import socket, time
line = "<134>" + time.strftime("%b %e %H:%M:%S") + " cam-q1-0011 camera[77]: login failed for admin"
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.sendto(line.encode(), ("10.50.0.11", 514))
"""


def test_a_cameras_syslog_reaches_the_event_store_through_its_collector(
    box: tuple[BoxPaths, BoxState],
) -> None:
    paths, _state = box
    if not (paths.folder / "converge-seconds.txt").exists():
        pytest.skip("the box was not converged (see the converge test)")
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and stored == 0:
        subprocess.run(
            ["ip", "netns", "exec", "cbx-h-cam-q1-0011", "python3", "-c", SYSLOG],
            check=True,
            timeout=30,
        )
        time.sleep(3)
        stored = _count(paths, {"match_phrase": {"host.hostname": "cam-q1-0011"}})
    assert stored > 0


# Run as root on a host: apt pointed at the box's repository with another key (Debian's own).
WRONG_KEY = """
import pathlib, subprocess, tempfile
url = pathlib.Path("/etc/apt/sources.list.d/citysoc.list").read_text().split("] ", 1)[1]
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "lists" / "partial").mkdir(parents=True)
wrong = folder / "wrong.list"
wrong.write_text("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " + url)
done = subprocess.run(
    ["apt-get", "update", "-o", "Dir::Etc::SourceList=" + str(wrong),
     "-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::State::Lists=" + str(folder / "lists")],
    capture_output=True, text=True)
print(done.stdout + done.stderr)
print("exit=" + str(done.returncode))
"""


def test_hosts_trust_the_box_packages_only_by_its_signing_key(
    box: tuple[BoxPaths, BoxState],
) -> None:
    """The box's apt repository is signed (InRelease) with the box's own key; hosts name that
    key with signed-by (no trusted=yes), apt accepts the repository with it and refuses it
    with any other key."""
    paths, _state = box
    _converged(paths)
    source = _ssh(paths, STORE, "cat /etc/apt/sources.list.d/citysoc.list")
    assert source.returncode == 0, source.stderr
    assert "signed-by=/etc/apt/keyrings/citysoc.asc" in source.stdout
    assert "trusted=yes" not in source.stdout
    update = _ssh(paths, STORE, "sudo apt-get update 2>&1; echo exit=$?")
    assert "exit=0" in update.stdout and "NO_PUBKEY" not in update.stdout, update.stdout
    wrong = _ssh(paths, STORE, f"sudo python3 -c '{WRONG_KEY}'")
    assert "NO_PUBKEY" in wrong.stdout or "not signed" in wrong.stdout, wrong.stdout
    assert "exit=0" not in wrong.stdout, wrong.stdout


# Run on the SOC API host, a client the topology lets reach the store: what the store host
# answers to a plain-HTTP request, to TLS without or with a wrong account, to TLS with the
# clients' account, and whether the engine's own port is reachable at all. Both hosts are
# the box's own, in network namespaces this module's fixture made (and removes).
STORE_PROBE = """
import base64, http.client, json, socket, ssl, sys
account = sys.stdin.read()
context = ssl.create_default_context(cafile="/etc/citysoc/event-store-ca.crt")
def ask(conn, auth=None):
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    try:
        conn.request("GET", "/", headers=headers)
        answer = conn.getresponse()
        return [answer.status, "cluster_name" in answer.read().decode("utf-8", "replace")]
    finally:
        conn.close()
found = {
    "plain": ask(http.client.HTTPConnection("10.50.0.30", 9200, timeout=10)),
    "anonymous": ask(http.client.HTTPSConnection("10.50.0.30", 9200, timeout=10, context=context)),
    "wrong": ask(http.client.HTTPSConnection("10.50.0.30", 9200, timeout=10, context=context),
                 account.split(":")[0] + ":not-the-password"),
    "account": ask(http.client.HTTPSConnection("10.50.0.30", 9200, timeout=10, context=context),
                   account),
}
untrusted = ssl.create_default_context()
try:
    ask(http.client.HTTPSConnection("10.50.0.30", 9200, timeout=10, context=untrusted), account)
    found["untrusted"] = "accepted"
except ssl.SSLCertVerificationError:
    found["untrusted"] = "certificate refused"
engine = socket.socket()
engine.settimeout(3)
try:
    engine.connect(("10.50.0.30", 9201))
    found["engine"] = "open"
except ConnectionRefusedError:
    found["engine"] = "refused"
except OSError:
    found["engine"] = "timeout"
print(json.dumps(found))
"""


def test_the_event_store_admits_only_tls_with_the_clients_account(
    box: tuple[BoxPaths, BoxState],
) -> None:
    """Collectors, sensors and the SOC API reach the engine only through the store host's TLS
    proxy with their account: a plain-HTTP request, a request without credentials or with a
    wrong password, and a client that does not trust the store's CA are refused; the engine
    itself listens on the store host's loopback only."""
    paths, _state = box
    _converged(paths)
    done = _ssh(paths, API, f"sudo python3 -c '{STORE_PROBE}'", stdin=_store_account(paths))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["plain"] == [400, False], found
    assert found["anonymous"] == [401, False], found
    assert found["wrong"] == [401, False], found
    assert found["account"] == [200, True], found
    assert found["untrusted"] == "certificate refused", found
    assert found["engine"] in ("refused", "timeout"), found
    listening = _ssh(paths, STORE, "ss -Hltn")
    assert listening.returncode == 0, listening.stderr
    engine = [x.split()[3] for x in listening.stdout.splitlines() if x.split()[3].endswith(":9201")]
    assert engine and all(x.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for x in engine)
    for env, address in (("soc-api", API), ("collector", "10.50.0.10")):
        settings = _ssh(paths, address, f"sudo sed -n 's/=.*//p' /etc/citysoc/{env}.env")
        assert settings.returncode == 0, settings.stderr
        assert {
            "CITYSOC_EVENT_STORE",
            "CITYSOC_EVENT_STORE_USERNAME",
            "CITYSOC_EVENT_STORE_PASSWORD",
            "CITYSOC_EVENT_STORE_CA_FILE",
        } <= set(settings.stdout.split()), settings.stdout
    # Everything the other tests read from the store came through this proxy, written by the
    # collectors and sensors with the same account.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- End to end after the deploy: video, an attack and its alert, a denied flow ---------------

CAMERA = "cam-q1-0011"
CAMERA_IP = "10.31.0.11"  # a District 1 camera; only the VMS may reach it (tcp 554 and 80)
VMS_NETNS = "cbx-h-ioc-vms-01"
STORE = "10.50.0.30"
API = "10.50.0.40"
BASTION = "10.60.0.5"
HIKVISION_BYPASS = "fb49713f-c1db-50a9-8757-63409175173c"  # Sigma rule: CVE-2017-7921

# A camera's RTSP service and web interface, run in the camera host's namespace by the test: a
# 200 to every RTSP method with the headers a real camera sends, and the user list that
# firmware vulnerable to CVE-2017-7921 hands out for the magic auth parameter.
CAMERA_SERVICE = r"""
import socketserver, sys, threading

SDP = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Channel 101\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n")


def read_headers(rfile):
    headers = {}
    while True:
        line = rfile.readline().decode("latin-1")
        if line in ("\r\n", "\n", ""):
            return headers
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()


class Rtsp(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline().decode("latin-1")
            if not line:
                return
            if not line.strip():
                continue
            method, url, _ = line.split(" ", 2)
            headers = read_headers(self.rfile)
            extra, body = {}, ""
            if method == "OPTIONS":
                extra["Public"] = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"
            elif method == "DESCRIBE":
                body = SDP
                extra["Content-Type"] = "application/sdp"
                extra["Content-Base"] = url + "/"
            elif method == "SETUP":
                extra["Transport"] = headers.get("transport", "") + ";server_port=6970-6971"
                extra["Session"] = "4F2A19C3;timeout=60"
            else:
                extra["Session"] = "4F2A19C3"
            reply = "RTSP/1.0 200 OK\r\nCSeq: " + headers.get("cseq", "0") + "\r\n"
            reply += "".join(k + ": " + v + "\r\n" for k, v in extra.items())
            reply += "Content-Length: " + str(len(body)) + "\r\n\r\n" + body
            self.wfile.write(reply.encode())
            if method == "TEARDOWN":
                return


class Web(socketserver.StreamRequestHandler):
    def handle(self):
        request = self.rfile.readline().decode("latin-1")
        read_headers(self.rfile)
        found = request.startswith("GET /Security/users?")
        body = "<UserList><User><id>1</id><userName>admin</userName></User></UserList>"
        status = "200 OK" if found else "404 Not Found"
        self.wfile.write((
            "HTTP/1.1 " + status + "\r\nContent-Type: application/xml\r\n"
            "Content-Length: " + str(len(body)) + "\r\nConnection: close\r\n\r\n" + body
        ).encode())


socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
for port, handler in ((554, Rtsp), (80, Web)):
    server = socketserver.ThreadingTCPServer(("0.0.0.0", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()  # serves until the test closes this pipe
"""

# The VMS pulling a stream: one RTSP session, OPTIONS to TEARDOWN, each answer's status printed.
VMS_PULL = r"""
import socket, sys

camera = sys.argv[1]
url = "rtsp://" + camera + ":554/Streaming/Channels/101"
sock = socket.create_connection((camera, 554), timeout=10)
answers = sock.makefile("rb")
session, seen = None, []
for cseq, method in enumerate(("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"), start=1):
    lines = [method + " " + (url + "/track1" if method == "SETUP" else url) + " RTSP/1.0",
             "CSeq: " + str(cseq), "User-Agent: ioc-vms/2.1"]
    if method == "DESCRIBE":
        lines.append("Accept: application/sdp")
    if method == "SETUP":
        lines.append("Transport: RTP/AVP;unicast;client_port=50000-50001")
    if session and method in ("PLAY", "TEARDOWN"):
        lines.append("Session: " + session)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = answers.readline().decode().split()[1]
    headers = {}
    while True:
        line = answers.readline().decode().strip()
        if not line:
            break
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    answers.read(int(headers.get("content-length", "0")))
    if method == "SETUP":
        session = headers["session"].split(";")[0]
    seen.append(method + "=" + status)
print(" ".join(seen))
"""

# A compromised VMS (the one host allowed to reach the camera) exploiting CVE-2017-7921.
ATTACK = """
import sys, urllib.request
answer = urllib.request.urlopen(
    "http://" + sys.argv[1] + "/Security/users?auth=YWRtaW46MTEK", timeout=10)
print(answer.status)
"""


def _converged(paths: BoxPaths) -> None:
    if not (paths.folder / "converge-seconds.txt").exists():
        pytest.skip("the box was not converged (see the converge test)")


def _field(doc: dict[str, Any], name: str) -> Any:
    """A field of a stored event, whether the engine kept it dotted or nested."""
    if name in doc:
        return doc[name]
    value: Any = doc
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _search(paths: BoxPaths, *terms: tuple[str, Any], size: int = 50) -> list[dict[str, Any]]:
    query = {
        "query": {"bool": {"filter": [{"term": {k: v}} for k, v in terms]}},
        "size": size,
    }
    return [hit["_source"] for hit in _query(paths, query)["hits"]["hits"]]


def _in_netns(netns: str, script: str, *args: str) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "python3", "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def camera_service(box: tuple[BoxPaths, BoxState]) -> Iterator[None]:
    """The District 1 camera's RTSP and web services, stopped by their own pid at the end."""
    _converged(box[0])
    service = subprocess.Popen(
        ["ip", "netns", "exec", f"cbx-h-{CAMERA}", "python3", "-u", "-c", CAMERA_SERVICE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "ready"
        yield
    finally:
        service.terminate()
        service.wait(timeout=10)


@contextlib.contextmanager
def _console_tunnel(paths: BoxPaths) -> Iterator[int]:
    """An analyst's SSH tunnel through the bastion to the SOC API's HTTPS port."""
    port = _free_port()
    tunnel = subprocess.Popen(
        ["ssh", "-F", str(paths.folder / "ssh_config"), "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"127.0.0.1:{port}:{API}:443", BASTION],
    )  # fmt: skip
    try:
        yield port
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)


class Analyst:
    """A console user talking HTTPS to the SOC API through the tunnel, trusting the box's CA."""

    def __init__(self, paths: BoxPaths, port: int, jar: Path) -> None:
        self.base = f"https://soc-api-01:{port}"
        self.common = [
            "curl", "-sS", "--retry", "10", "--retry-connrefused", "--retry-delay", "1",
            "--cacert", str(paths.folder / "tls" / "ca.crt"),
            "--resolve", f"soc-api-01:{port}:127.0.0.1", "-b", str(jar), "-c", str(jar),
        ]  # fmt: skip

    def _curl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*self.common, *args], input=stdin, capture_output=True, text=True, timeout=90
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def login(self, username: str, password: str) -> None:
        page = self._curl(f"{self.base}/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None, page[:500]
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf": csrf.group(1)}
        )
        # The form (and its password) goes on curl's stdin, never on a command line.
        status = self._curl(
            "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-",
            "-H", "Content-Type: application/x-www-form-urlencoded", f"{self.base}/login",
            stdin=form,
        )  # fmt: skip
        assert status == "303", f"login of {username} answered {status}"

    def alerts(self) -> list[dict[str, Any]]:
        page = json.loads(self._curl("--fail", f"{self.base}/api/v1/alerts?limit=500"))
        items: list[dict[str, Any]] = page["items"]
        return items


def _make_analyst(paths: BoxPaths, username: str, agency: str) -> str:
    """An agency analyst made with ``citysoc user`` on the SOC API host, as the service's user
    with the service's settings; the password goes over SSH on stdin, never on a command line."""
    password = secrets.token_urlsafe(18)
    command = (
        "sudo systemd-run --quiet --pipe --wait --collect --property=User=citysoc "
        "--property=EnvironmentFile=/etc/citysoc/soc-api.env "
        f"/opt/citysoc/.venv/bin/citysoc user {username} --role agency_analyst --agency {agency}"
    )
    done = _ssh(paths, API, command, stdin=password + "\n")
    assert done.returncode == 0, (done.stdout, done.stderr)
    return password


def test_the_vms_pulls_rtsp_from_a_camera_and_the_sensor_stores_the_exchange(
    box: tuple[BoxPaths, BoxState], camera_service: None
) -> None:
    """A real RTSP session from the VMS to a District 1 camera crosses the core router (tcp 554
    is an allowed flow), and the sensor mirroring the camera segment stores each request with
    the camera's answer in the engine."""
    paths, _state = box
    answers = _in_netns(VMS_NETNS, VMS_PULL, CAMERA_IP)
    assert answers == "OPTIONS=200 DESCRIBE=200 SETUP=200 PLAY=200 TEARDOWN=200"
    deadline = time.monotonic() + 90
    methods: dict[str, Any] = {}
    while time.monotonic() < deadline and "PLAY" not in methods:
        time.sleep(3)
        found = _search(
            paths, ("destination.ip", CAMERA_IP), ("event.action", "rtsp_request"), size=100
        )
        methods = {
            _field(d, "rtsp.request.method"): _field(d, "rtsp.response.status_code")
            for d in found
            if _field(d, "source.ip") == "10.20.0.10"
        }
    assert {"DESCRIBE", "SETUP", "PLAY"} <= set(methods), methods
    assert methods["PLAY"] == 200
    stored = _search(paths, ("destination.ip", CAMERA_IP), ("event.action", "rtsp_request"))
    play = next(d for d in stored if _field(d, "rtsp.request.method") == "PLAY")
    assert _field(play, "organization.id") == "d1"
    assert _field(play, "citysoc.source.role") == "vms"


def test_an_attack_on_a_district_1_camera_is_an_alert_its_analyst_reads_over_https(
    box: tuple[BoxPaths, BoxState], camera_service: None, tmp_path: Path
) -> None:
    """CVE-2017-7921 against the camera, from the VMS (the only host the topology lets reach
    it): captured by the sensor, stored in the engine, detected by the SOC API's schedule on the
    engine, and read at /api/v1/alerts over HTTPS through the bastion by a District 1 analyst;
    a Tan Binh analyst does not see it."""
    paths, _state = box
    assert _in_netns(VMS_NETNS, ATTACK, CAMERA_IP) == "200"
    d1 = _make_analyst(paths, "analyst-q1", "d1")
    tanbinh = _make_analyst(paths, "analyst-tanbinh", "tanbinh")
    # The schedule works through everything the sensors stored since the box came up (the
    # deploy's own traffic included) before it reaches the attack: give it time.
    deadline = time.monotonic() + 420
    ours: list[dict[str, Any]] = []
    with _console_tunnel(paths) as port:
        analyst = Analyst(paths, port, tmp_path / "d1.cookies")
        analyst.login("analyst-q1", d1)
        while time.monotonic() < deadline and not ours:
            time.sleep(5)
            ours = [a for a in analyst.alerts() if a["rule_id"] == HIKVISION_BYPASS]
        other = Analyst(paths, port, tmp_path / "tanbinh.cookies")
        other.login("analyst-tanbinh", tanbinh)
        theirs = other.alerts()
    stored = _search(paths, ("destination.ip", CAMERA_IP), ("event.action", "http_request"))
    assert any("auth=YWRtaW46MTEK" in str(_field(d, "url.query")) for d in stored), stored
    if not ours:
        journal = _ssh(paths, API, "sudo journalctl -u citysoc-api --no-pager -q -n 60 -o cat")
        pytest.fail(f"no CVE-2017-7921 alert reached the District 1 analyst:\n{journal.stdout}")
    assert ours[0]["agency"] == "d1"
    assert CAMERA_IP in json.dumps(ours[0]["entity"])
    assert all(a["agency"] == "tanbinh" for a in theirs)
    assert not [a for a in theirs if a["rule_id"] == HIKVISION_BYPASS]


def test_a_denied_flow_is_dropped_and_logged_by_the_host_that_dropped_it(
    box: tuple[BoxPaths, BoxState],
) -> None:
    """The operator's machine tries a port the bastion does not offer: the bastion's nftables
    drops it and logs the drop (rate-limited, through ulogd2 to the host's syslog), in the
    shape the syslog collector parses as a firewall drop. A router's drop is counted too."""
    from citysoc.core.errors import Location
    from collectors.sources.syslog import parse_syslog
    from collectors.stats import CollectorStats

    paths, _state = box
    _converged(paths)
    with socket.socket() as probe:
        probe.settimeout(3)
        with pytest.raises(TimeoutError):
            probe.connect((BASTION, 8443))  # dropped: no answer at all, not a refusal
    line = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not line:
        done = _ssh(paths, BASTION, "sudo journalctl --no-pager -q -o short -n 5000")
        assert done.returncode == 0, done.stderr
        line = next((x for x in done.stdout.splitlines() if "DPT=8443" in x), "")
        time.sleep(1)
    assert "citysoc-drop input:" in line, line
    assert f"DST={BASTION}" in line
    # As the host's syslog would forward it (a priority before the journal's line).
    event = parse_syslog(
        f"<28>{line}", Location("bastion-01 journal"), CollectorStats(), received=time.time()
    )
    assert event["event.action"] == "firewall-drop", event
    assert event["destination.port"] == 8443

    # The bastion's rsyslog forwards the line to its segment's collector, which stores it as a
    # firewall-drop event in the store (through its TLS proxy).
    drop = {
        "bool": {
            "filter": [
                {"term": {"event.action": "firewall-drop"}},
                {"term": {"destination.port": 8443}},
                {"term": {"destination.ip": BASTION}},
            ]
        }
    }
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and not stored:
        time.sleep(3)
        stored = _count(paths, drop)
    assert stored > 0, "the bastion's drop line never reached the store through its collector"

    # The edge router drops the internet's SSH to the portal, and its log rule counts it.
    before = _dropped_by("cbx-edge")
    assert _probe(22) == "timeout"
    assert _dropped_by("cbx-edge") > before


def _dropped_by(netns: str) -> int:
    shown = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", "chain", "inet", "citysoc", "forward"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rule = next(x for x in shown.splitlines() if "Dropped by policy" in x)
    found = re.search(r"counter packets (\d+)", rule)
    assert found is not None, rule
    return int(found.group(1))
