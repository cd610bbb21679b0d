"""The SSH decoder on real OpenSSH traffic: the box's Debian 12 image's sshd, chrooted in a
private mount namespace (its /tmp and /run are this test's, the image stays untouched), on
127.0.0.1; the machine's OpenSSH client guesses passwords, then logs in with a key; dumpcap
records the loopback. The login guesses must read what happened."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citysoc.core.ecs import Event
from citysoc.core.ecs_reference import problems
from collectors.packets.pcap import read_pcap
from collectors.stats import CollectorStats

REPO = Path(__file__).resolve().parents[3]
IMAGE = REPO / ".cache" / "box" / "base-bookworm"  # built by the city-in-a-box tests
TOOLS = ("ssh", "ssh-keygen", "dumpcap", "unshare", "chroot")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and capture need root"),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS), reason=f"needs {', '.join(TOOLS)}"
    ),
    pytest.mark.skipif(
        not (IMAGE / "usr/sbin/sshd").exists(),
        reason="no sshd: the box's Debian image is not built (tests/integration/box builds it)",
    ),
]
SSHD_CONFIG = """Port {port}
ListenAddress 127.0.0.1
HostKey /tmp/host_ed25519
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile /tmp/client_key.pub
StrictModes no
MaxAuthTries 3
LogLevel ERROR
"""
CHROOT = (
    'mount --bind "$1" "$2/tmp" && mount -t tmpfs none "$2/run" && mkdir "$2/run/sshd" '
    '&& exec chroot "$2" /usr/sbin/sshd -D -e -f /tmp/sshd_config'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port, without connecting (a probe connection
    would be one more SSH conversation in the capture)."""
    wanted = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    return any(r.split()[1] == wanted and r.split()[3] == "0A" for r in rows)


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[Event], CollectorStats]]:
    work = tmp_path_factory.mktemp("openssh")
    port = free_port()
    for key in ("host_ed25519", "client_key"):
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / key)]
        subprocess.run(keygen, check=True)
    (work / "sshd_config").write_text(SSHD_CONFIG.format(port=port), encoding="utf-8")
    askpass = work / "askpass"
    askpass.write_text("#!/bin/sh\necho not-the-password\n", encoding="utf-8")
    askpass.chmod(0o755)
    pcap = work / "openssh.pcap"
    private = ["unshare", "--mount", "--propagation", "private"]
    sshd = subprocess.Popen([*private, "sh", "-c", CHROOT, "sh", str(work), str(IMAGE)])
    dumpcap: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: listening(port), "sshd on 127.0.0.1")
        dumpcap = subprocess.Popen(
            ["dumpcap", "-q", "-P", "-i", "lo", "-f", f"tcp port {port}", "-w", str(pcap)],
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: pcap.exists() and pcap.stat().st_size >= 24, "dumpcap")
        time.sleep(0.5)
        env = {"PATH": os.environ["PATH"], "HOME": str(work), "DISPLAY": "none",
               "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}  # fmt: skip
        common = ["ssh", "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
                  "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5"]  # fmt: skip
        guess = subprocess.run(
            [*common, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
             "-o", "NumberOfPasswordPrompts=3", "nobody@127.0.0.1", "true"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
            start_new_session=True,
        )  # fmt: skip
        assert guess.returncode == 255 and b"Too many authentication failures" in guess.stderr
        time.sleep(0.5)
        login = subprocess.run(
            [*common, "-o", "BatchMode=yes", "-i", str(work / "client_key"), "root@127.0.0.1",
             "echo logged-in; ls /etc | head -20"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
        )  # fmt: skip
        assert login.returncode == 0 and b"logged-in" in login.stdout, login.stderr
        time.sleep(1.0)  # the last segments reach the capture
    finally:
        if dumpcap is not None:
            stop(dumpcap, signal.SIGINT)
        stop(sshd, signal.SIGTERM)
    stats = CollectorStats()
    events = [e for e in read_pcap(pcap, stats) if e["event.dataset"] == "network_traffic.ssh"]
    yield events, stats


def test_real_key_exchanges_are_read_and_fingerprinted(
    recorded: tuple[list[Event], CollectorStats],
) -> None:
    events, stats = recorded
    assert stats.errors == {}
    hellos = [e for e in events if e["event.action"] == "ssh_handshake"]
    assert len(hellos) == 2 and all(problems(e) == [] for e in events)
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr
    for hello in hellos:
        assert hello["ssh.client.software"] == version.split(",")[0].split()[0]
        assert hello["ssh.server.software"].startswith("OpenSSH_9.2")
        for side in ("client", "server"):
            text = hello[f"ssh.{side}.hassh_string"]
            assert hello[f"ssh.{side}.hassh"] == hashlib.md5(text.encode()).hexdigest()
        assert hello["ssh.chosen.kex"] in hello["ssh.server.kex_algorithms"].split(",")
        assert hello["ssh.strict_kex"] is True  # both sides are past the Terrapin fix


def test_real_password_guessing_and_a_real_login_are_told_apart(
    recorded: tuple[list[Event], CollectorStats],
) -> None:
    guesses = [e for e in recorded[0] if e["event.action"] == "ssh_authentication"]
    assert len(guesses) == 2
    guess, login = sorted(guesses, key=lambda e: e["@timestamp"])
    shape = {k: v for k, v in guess.items() if k.startswith("citysoc.ssh.")}
    assert guess["event.outcome"] == "failure", shape
    assert guess["citysoc.ssh.failure_answers"] == 3  # the none probe, two refused passwords
    answers = [int(size) for size in guess["citysoc.ssh.answer_bytes"].split(",")]
    assert answers[-1] > answers[-2] == answers[1]  # then a DISCONNECT: MaxAuthTries reached
    assert login["event.outcome"] == "success", {
        k: v for k, v in login.items() if k.startswith("citysoc.ssh.")
    }
