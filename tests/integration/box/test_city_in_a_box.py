"""The city in a box, for real: Debian 12 hosts booted with systemd in namespaces, converged by
Ansible over SSH through the bastion, twice (the second run changes nothing), then taken down
with nothing left behind.

Slow (a first converge installs every role's packages): it runs in its own suite of
``scripts/test.sh``. It needs root, debootstrap, systemd-nspawn, nft, tc, ssh and curl, and
skips with the reason where any is missing. Traffic goes only to the namespaces it creates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citybox import network
from citybox.box import BoxPaths, converge, down, status, up
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
        assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in pids if pid)
    assert not paths.state.exists()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def _ssh(paths: BoxPaths, address: str, command: str) -> subprocess.CompletedProcess[str]:
    config = paths.folder / "ssh_config"
    bastion = "10.60.0.5"
    jump = [] if address == bastion else ["-J", f"citysoc-ops@{bastion}"]
    return subprocess.run(
        ["ssh", "-F", str(config), *jump, address, command],
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

STORED = """
import json, urllib.request
query = {"query": {"term": {"source.ip": "198.51.100.10"}}, "size": 0}
request = urllib.request.Request(
    "http://10.50.0.30:9200/logs-*/_search", data=json.dumps(query).encode(),
    headers={"Content-Type": "application/json"})
print(json.loads(urllib.request.urlopen(request).read())["hits"]["total"]["value"])
"""


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
        done = _ssh(paths, "10.50.0.30", f"python3 -c '{STORED}'")
        assert done.returncode == 0, done.stderr
        stored = int(done.stdout.strip())
        time.sleep(3)
    assert stored > 0


SYSLOG = """
import socket, time
line = "<134>" + time.strftime("%b %e %H:%M:%S") + " cam-q1-0011 camera[77]: login failed for admin"
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.sendto(line.encode(), ("10.50.0.11", 514))
"""

CAMERA_STORED = """
import json, urllib.request
query = {"query": {"match_phrase": {"host.hostname": "cam-q1-0011"}}, "size": 0}
request = urllib.request.Request(
    "http://10.50.0.30:9200/logs-*/_search", data=json.dumps(query).encode(),
    headers={"Content-Type": "application/json"})
print(json.loads(urllib.request.urlopen(request).read())["hits"]["total"]["value"])
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
        done = _ssh(paths, "10.50.0.30", f"python3 -c '{CAMERA_STORED}'")
        assert done.returncode == 0, done.stderr
        stored = int(done.stdout.strip())
    assert stored > 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
