"""``citysoc serve`` as deployed (uvicorn on 127.0.0.1): X-Forwarded-For, session key file.

The reproducer: uvicorn believed ``X-Forwarded-For`` from loopback, so rotating the header
gave every login attempt a fresh budget; and without ``CITYSOC_SECRET_KEY`` the console
cookies were signed with a public placeholder.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from citysoc.core.settings import Settings
from soc_api.auth.models import Role
from soc_api.auth.secret import KEY_FILE_NAME
from soc_api.auth.service import upsert_user
from soc_api.db import init_state, make_engine, transaction

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "var"
    settings = Settings(data_dir=data)
    with transaction(init_state(make_engine(settings.resolved_state_url))) as session:
        upsert_user(session, username="city", password=PASSWORD, role=Role.CITY_ANALYST)
    port = free_port()
    env = {
        **os.environ,
        "CITYSOC_DATA_DIR": str(data),
        "CITYSOC_LOGIN_ATTEMPTS_PER_MINUTE": "3",
        "CITYSOC_DETECTION_INTERVAL_SECONDS": "3600",
    }
    env.pop("CITYSOC_SECRET_KEY", None)
    env.pop("CITYSOC_TRUSTED_PROXIES", None)
    log = (tmp_path / "serve.log").open("wb")
    command = [sys.executable, "-m", "citysoc.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield base, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def attempt(base: str, forwarded: str, username: str = "city") -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base}/login", timeout=10) as page:
        found = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
    assert found is not None
    form = {"username": username, "password": "wrong", "csrf": found.group(1)}
    request = urllib.request.Request(
        f"{base}/login",
        data=urllib.parse.urlencode(form).encode(),
        headers={"X-Forwarded-For": forwarded},
    )
    try:
        with opener.open(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_rotating_x_forwarded_for_from_loopback_is_still_limited(served: tuple[str, Path]) -> None:
    base, _ = served
    # a different account each time: only the per-client budget can stop this
    codes = [attempt(base, f"198.51.100.{n}", f"guess{n}") for n in range(1, 9)]
    assert codes[:3] == [401, 401, 401]
    assert set(codes[3:]) == {429}


def test_one_account_is_limited_across_clients(served: tuple[str, Path]) -> None:
    base, _ = served
    codes = [attempt(base, f"198.51.100.{n}") for n in range(1, 9)]
    assert codes[:3] == [401, 401, 401]
    assert set(codes[3:]) == {429}


def test_serve_signs_with_a_private_key_of_its_own(served: tuple[str, Path]) -> None:
    _, data = served
    key = data / KEY_FILE_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 32
