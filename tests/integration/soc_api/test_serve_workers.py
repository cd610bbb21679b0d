"""``citysoc serve --workers 2`` as deployed, on 127.0.0.1, over SQLite and PostgreSQL.

Both workers answer; the login limit is one budget across them; detections run once per
slice of events, in the supervisor alone, raising what one process raises; a killed worker
is started again; SIGTERM leaves no process behind.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import uvloop
from sqlalchemy import select

from citysoc.core.settings import Settings
from soc_api.alerts.models import Alert
from soc_api.audit.service import verify_chain
from soc_api.auth.models import Role, TokenScope
from soc_api.auth.service import upsert_user
from soc_api.auth.tokens import create_token
from soc_api.context import build_context
from soc_api.db import init_state, make_engine, transaction
from soc_api.ingest.service import ingest
from soc_api.workers import listen
from tests.integration.soc_api.test_soc_api_postgres import pg_url  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"
SAMPLES = [
    REPO / "detections/sigma/datacentre" / name / "match"
    for name in ("initial_access_sql_injection", "initial_access_path_traversal",
                 "initial_access_log4shell_jndi_lookup")
]  # fmt: skip
PG_BIN = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def live_children(parent: int, marker: str = "") -> list[int]:
    """Running (not zombie) children of ``parent`` whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z" and marker in command:
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    data: Path
    state_url: str
    ingest_token: str
    read_token: str
    log: Path


class Conn:
    """One keep-alive connection: every request on it reaches the same worker."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.http.request(method, path, body=body, headers=sent)
        reply = self.http.getresponse()
        data = reply.read()
        for header in reply.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return reply.status, data

    def pid(self) -> int:
        status, body = self.request("GET", "/health")
        assert status == 200, body
        return int(json.loads(body)["pid"])

    def login(self, username: str, password: str) -> int:
        _, page = self.request("GET", "/login")
        found = re.search(rb'name="csrf" value="([^"]+)"', page)
        assert found is not None
        form = {"username": username, "password": password, "csrf": found.group(1).decode()}
        status, _ = self.request(
            "POST",
            "/login",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status

    def close(self) -> None:
        self.http.close()


def one_per_worker(port: int, workers: int = 2) -> list[Conn]:
    """Keep-alive connections, one answered by each worker (the kernel picks who accepts)."""
    found: dict[int, Conn] = {}
    for _ in range(200):
        conn = Conn(port)
        pid = conn.pid()
        if pid in found:
            conn.close()
        else:
            found[pid] = conn
        if len(found) == workers:
            return list(found.values())
    pytest.fail(f"200 connections reached only the workers {sorted(found)}")


def ndjson(paths: list[Path]) -> bytes:
    return b"".join(json.dumps(json.loads(p.read_text())).encode() + b"\n" for p in paths)


def sample_events() -> list[Path]:
    return sorted(p for folder in SAMPLES for p in folder.glob("*.json"))


def state_url_for(kind: str, request: pytest.FixtureRequest, data: Path) -> str:
    if kind == "sqlite":
        return ""
    if os.geteuid() != 0 or not PG_BIN.is_dir() or shutil.which("pg_ctlcluster") is None:
        pytest.skip("needs root and Debian's postgresql package (apt-get install postgresql)")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp(f"workers-{request.param}")
    data = root / "var"
    state_url = state_url_for(request.param, request, data)
    settings = Settings(data_dir=data, state_url=state_url)
    with transaction(init_state(make_engine(settings.resolved_state_url))) as session:
        upsert_user(session, username="city", password=PASSWORD, role=Role.CITY_ANALYST)
        issued = create_token(session, name="sensor", scope=TokenScope.INGEST, agency=None,
                              days=1, actor="test")  # fmt: skip
        reader = create_token(session, name="prometheus", scope=TokenScope.READ, agency=None,
                              days=1, actor="test")  # fmt: skip
    port = free_port()
    env = {
        **os.environ,
        "CITYSOC_DATA_DIR": str(data),
        "CITYSOC_STATE_URL": state_url,
        "CITYSOC_LOGIN_ATTEMPTS_PER_MINUTE": "3",
        "CITYSOC_DETECTION_INTERVAL_SECONDS": "3600",  # only ingests wake the schedule
        "CITYSOC_INGEST_RATE_PER_SECOND": "1000",
    }
    for name in ("CITYSOC_SECRET_KEY", "CITYSOC_TRUSTED_PROXIES", "CITYSOC_API_WORKERS"):
        env.pop(name, None)
    log = root / "serve.log"
    command = [sys.executable, "-m", "citysoc.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "2"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120
        # started when both workers answer (a worker still starting accepts nothing)
        while len(live_children(proc.pid, "spawn_main")) < 2 or len(answering(port, 20)) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve --workers 2 did not start: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Served(proc, port, data, settings.resolved_state_url, issued.token, reader.token, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in live_children(proc.pid):
            os.kill(pid, signal.SIGKILL)


def answering(port: int, tries: int = 40) -> set[int]:
    """The workers that answered ``tries`` new connections."""
    pids = set()
    for _ in range(tries):
        try:
            conn = Conn(port)
            try:
                pids.add(conn.pid())
            finally:
                conn.close()
        except OSError:
            pass
    return pids


def answers(port: int) -> bool:
    try:
        conn = Conn(port)
        try:
            return conn.pid() > 0
        finally:
            conn.close()
    except OSError:
        return False


def test_both_workers_answer_and_are_the_supervisors_children(served: Served) -> None:
    conns = one_per_worker(served.port)
    pids = {c.pid() for c in conns}
    assert len(pids) == 2
    assert pids <= set(live_children(served.proc.pid, "spawn_main"))
    assert served.proc.pid not in pids  # the supervisor answers no request


def test_the_login_limit_is_one_budget_across_workers(served: Served) -> None:
    first, second = one_per_worker(served.port)
    assert first.pid() != second.pid()
    # 3 attempts a minute for the account: alternating workers must not give 3 each
    codes = [(first if n % 2 == 0 else second).login("city", "wrong") for n in range(6)]
    assert codes[:3] == [401, 401, 401], codes
    assert codes[3:] == [429, 429, 429], codes
    assert first.pid() != second.pid()  # each attempt went to the worker it was meant for


def test_detections_run_once_per_slice_in_the_supervisor(served: Served, tmp_path: Path) -> None:
    events = sample_events()
    assert len(events) >= 6
    conns = one_per_worker(served.port)
    auth = {"Authorization": f"Bearer {served.ingest_token}",
            "Content-Type": "application/x-ndjson"}  # fmt: skip
    # one event a request, alternating workers, each waking the schedule; then all again
    # (duplicates by event id) to both at once
    for n, path in enumerate(events):
        status, body = conns[n % 2].request("POST", "/api/v1/ingest", ndjson([path]), auth)
        assert status == 200, body
    for conn in conns:
        status, body = conn.request("POST", "/api/v1/ingest", ndjson(events), auth)
        assert status == 200 and json.loads(body)["duplicates"] == len(events), body

    expected = reference_alerts(events, tmp_path / "reference")
    assert expected, "the samples raise alerts in one process"
    engine = make_engine(served.state_url)
    deadline = time.monotonic() + 60
    while True:
        with engine.connect() as db:
            rows = db.execute(
                select(Alert.rule_id, Alert.agency, Alert.dedup_key, Alert.event_count)
            ).all()
        got = sorted((r[0], r[1], r[2], r[3]) for r in rows)
        # IOC sweeps are left out: an outside actor alerted on in one run is shared as an
        # IOC, which later runs' sweeps match, so they depend on how the slices fell
        rules = [alert for alert in got if not alert[0].startswith("ioc-")]
        if rules == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    assert rules == expected, (got, expected)  # one alert per rule and entity, each event once
    assert len({(a[1], a[2]) for a in got}) == len(got)  # no alert twice
    runs = json.loads((served.data / "detection-runs.json").read_text())
    assert runs["last_busy_run"]["events"] >= 1
    # both workers show the supervisor's last run
    shown = [json.loads(c.request("GET", "/health")[1])["last_detection_run"] for c in conns]
    for run in (*shown, runs["last_run"]):
        run["at"] = datetime.fromisoformat(run["at"].replace("Z", "+00:00"))
    assert shown[0] == shown[1] == runs["last_run"]


def reference_alerts(events: list[Path], data: Path) -> list[tuple[str, str, str, int]]:
    """The alerts one process raises from the same events in one run."""
    ctx = build_context(Settings(data_dir=data))
    try:
        report = ingest(ndjson(events), store=ctx.store, enricher=ctx.enricher, agency=None)
        assert report.stored == len(events)
        ctx.scheduler.run_once()
        with ctx.sessions() as session:
            rows = session.execute(
                select(Alert.rule_id, Alert.agency, Alert.dedup_key, Alert.event_count)
            ).all()
        return sorted((r[0], r[1], r[2], r[3]) for r in rows)
    finally:
        ctx.close()


def test_the_audit_chain_stays_one_chain(served: Served) -> None:
    conns = one_per_worker(served.port)
    for conn in conns:  # logins (audited) on both workers
        assert conn.login("city", PASSWORD) in (303, 429)
    engine = make_engine(served.state_url)
    with transaction(init_state(engine)) as session:
        report = verify_chain(session)
        assert report.entries >= 3  # the token, and a login on each worker
    engine.dispose()
    assert report.intact, report


def health_count(conn: Conn, token: str) -> float:
    status, body = conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    found = re.search(
        rb'citysoc_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)', body
    )
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_every_worker(served: Served) -> None:
    first, second = one_per_worker(served.port)
    before = health_count(first, served.read_token)
    for _ in range(5):
        first.pid()
    for _ in range(7):
        second.pid()
    assert health_count(second, served.read_token) - before == 5 + 7
    assert health_count(first, served.read_token) == health_count(second, served.read_token)
    body = second.request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {served.read_token}"}
    )[1]
    assert b"citysoc_events_stored " in body  # the state's gauges, read once for every worker
    assert body.count(b"# TYPE citysoc_events_stored gauge") == 1


def test_a_killed_worker_is_started_again(served: Served) -> None:
    before = set(live_children(served.proc.pid, "spawn_main"))
    assert len(before) == 2
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        now = set(live_children(served.proc.pid, "spawn_main"))
        if len(now) == 2 and victim not in now and answering(served.port) == now:
            break
        assert time.monotonic() < deadline, served.log.read_text()[-3000:]
        time.sleep(0.5)
    assert "ended with exit code -9" in served.log.read_text()


def test_sigterm_stops_every_process(served: Served) -> None:
    children = live_children(served.proc.pid)
    assert len(children) >= 2
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0, served.log.read_text()[-3000:]
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children):
        assert time.monotonic() < deadline, f"left behind: {children}"
        time.sleep(0.2)
    assert not answers(served.port)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_accepted_connections_send_without_waiting_for_acks(loop: str) -> None:
    """The shared socket says it is TCP, so the event loop sets TCP_NODELAY on what it accepts
    (a response written in two parts otherwise waited 40 ms for the client's delayed ACK):
    asyncio's loop, and uvloop's, which uvicorn runs when it is installed (it is, by default)."""
    sock = listen("127.0.0.1", 0)
    nodelay: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted = writer.get_extra_info("socket")
        nodelay.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    async def connect_once() -> None:
        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            await reader.read()
            writer.close()

    if loop == "uvloop":
        uvloop.run(connect_once())
    else:
        asyncio.run(connect_once())
    assert sock.proto == socket.IPPROTO_TCP
    assert nodelay and nodelay[0] != 0
