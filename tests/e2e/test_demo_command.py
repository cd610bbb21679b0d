"""`citysoc demo` as a user runs it: a real server on 127.0.0.1, a real HTTP client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx2 as httpx
import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "demo-password-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CITYSOC_DATA_DIR": str(data_dir),
        "CITYSOC_DEMO_PASSWORD": PASSWORD,
        "CITYSOC_DETECTION_INTERVAL_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "citysoc.cli.main", "demo", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def logged_in(base: str, deadline: float, username: str = "analyst") -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=5)
    while time.monotonic() < deadline:
        try:
            page = client.get("/login")
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"username": username, "password": PASSWORD, "csrf": token}
        assert client.post("/login", data=form).status_code == 303
        return client
    raise AssertionError("the demo never answered")


def wait_for(client: httpx.Client, minimum: int, deadline: float) -> int:
    while time.monotonic() < deadline:
        total = int(client.get("/api/v1/alerts").json()["total"])
        if total >= minimum:
            return total
        time.sleep(0.25)
    raise AssertionError(f"fewer than {minimum} alerts before the deadline")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    return output


def test_demo_shows_alerts_quickly_stops_cleanly_and_runs_twice(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = start_demo(tmp_path / "var", port)
    try:
        with closing(logged_in(base, started + 60)) as client:
            wait_for(client, 3, started + 60)
            elapsed = time.monotonic() - started
            total = wait_for(client, 5, started + 90)  # every demo input is in
            events = client.get("/health").json()["events"]
        with closing(logged_in(base, time.monotonic() + 30, "admin")) as admin:
            assert admin.get("/tokens").status_code == 200  # the demo has an admin too
    finally:
        output = stop(proc)
    assert f"Console:  {base}/" in output and "analyst / " + PASSWORD in output
    assert "admin / " + PASSWORD in output and "ops / " + PASSWORD in output
    print(f"demo: 3 alerts in the console {elapsed:.1f}s after start")

    proc = start_demo(tmp_path / "var", port)
    try:
        with closing(logged_in(base, time.monotonic() + 60)) as client:
            deadline = time.monotonic() + 60
            while client.get("/health").json()["last_detection_run"] is None:
                assert time.monotonic() < deadline
                time.sleep(0.25)
            time.sleep(5)  # the feed re-reads every sample; two detection runs follow
            again = client.get("/health").json()["events"]
            # no sample read twice; the audit checkpoints sealed meanwhile are events too
            assert events <= again <= events + 3
            assert client.get("/api/v1/alerts").json()["total"] == total
    finally:
        stop(proc)
