"""The SOC state on a real PostgreSQL: migrations, triage, audit chain, IOCs, incidents.

Needs root and Debian's ``postgresql`` (started here if it is down); a throwaway role and
database are created on 127.0.0.1 and dropped afterwards.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from citysoc.core.ecs import event_id
from citysoc.core.settings import Settings
from soc_api.app import create_app
from soc_api.auth.models import Role
from soc_api.auth.service import upsert_user
from soc_api.context import SocContext
from soc_api.db import make_engine, transaction
from soc_api.migrate import alembic_config, current_revision, upgrade

PG_BIN = Path("/usr/lib/postgresql")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not PG_BIN.is_dir() or shutil.which("pg_ctlcluster") is None,
    reason="needs root and Debian's postgresql package (apt-get install postgresql)",
)
PASSWORD = "postgres test password"
START_LOCK = Path("/tmp/citysoc-postgres-start.lock")


def psql(sql: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


def first_cluster() -> tuple[str, str, str] | None:
    """(version, name, status) of the machine's first PostgreSQL cluster, if it has one."""
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True)
    for line in clusters.stdout.splitlines():
        version, name, _port, status = line.split()[:4]
        return version, name, status
    return None


def ensure_running() -> None:
    """Start the cluster if it is down, once across every test process.

    pytest-xdist runs several PostgreSQL test modules at once; two ``pg_ctlcluster start``
    at the same moment make one of them fail on the other's half-written lock file. The
    start is therefore taken under a file lock, and the state is read again inside it.
    """
    with open(START_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cluster = first_cluster()
        if cluster is None:
            pytest.skip("no PostgreSQL cluster (pg_createcluster 15 main)")
        version, name, status = cluster
        if status != "online":
            started = subprocess.run(
                ["pg_ctlcluster", version, name, "start"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            now = first_cluster()
            if started.returncode != 0 and (now is None or now[2] != "online"):
                raise RuntimeError(
                    f"pg_ctlcluster {version} {name} start failed "
                    f"(exit {started.returncode}): {started.stderr.strip()}"
                )


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    ensure_running()
    name = f"citysoc_test_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    psql(f"CREATE DATABASE {name} OWNER {name}")
    try:
        yield f"postgresql+psycopg://{name}:{password}@127.0.0.1:5432/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"DROP ROLE IF EXISTS {name}")


def seed(ctx: SocContext) -> None:
    with transaction(ctx.sessions) as session:
        upsert_user(session, username="city", password=PASSWORD, role=Role.CITY_ANALYST)
        upsert_user(session, username="auditor", password=PASSWORD, role=Role.AUDITOR)
        upsert_user(
            session, username="d1", password=PASSWORD, role=Role.AGENCY_ANALYST, agency="d1"
        )
    for camera, agency in (("10.31.0.21", "d1"), ("10.32.0.21", "tanbinh")):
        ctx.store.write(
            [
                {
                    "event.id": event_id(camera, s),
                    "@timestamp": f"2026-11-20T02:10:{s:02d}.000Z",
                    "network.protocol": "rtsp",
                    "rtsp.response.status_code": 401,
                    "source.ip": "203.0.113.50",
                    "destination.ip": camera,
                    "organization.id": agency,
                    "citysoc.segment": f"cam-{agency}",
                    "citysoc.security_level": 2,
                }
                for s in range(0, 12, 2)
            ]
        )
    assert ctx.scheduler.run_once().created == 2


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"username": username, "password": PASSWORD, "csrf": token.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_migrations_reach_head_and_are_idempotent(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        head = ScriptDirectory.from_config(alembic_config(pg_url)).get_current_head()
        assert upgrade(engine) == upgrade(engine) == current_revision(engine) == head
        tables = set(inspect(engine).get_table_names())
        assert {"alerts", "users", "api_tokens", "audit_log", "iocs", "alembic_version"} <= tables
    finally:
        engine.dispose()


def test_services_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", state_url=pg_url, detection_interval_seconds=3600
    )
    with TestClient(create_app(settings, startup=(seed,))) as client:
        login(client, "d1")
        alerts = client.get("/api/v1/alerts").json()
        assert [a["agency"] for a in alerts["items"]] == ["d1"]
        alert_id = alerts["items"][0]["id"]
        closed = client.patch(
            f"/api/v1/alerts/{alert_id}", json={"status": "closed", "close_reason": "true_positive"}
        )
        assert closed.json()["status"] == "closed"
        ioc = client.post(
            "/api/v1/iocs",
            json={"kind": "ip", "value": "203.0.113.50", "tlp": "AMBER", "audience": ["tanbinh"]},
        )
        assert ioc.status_code == 201
        incident = client.get("/api/v1/incidents").json()["items"][0]
        assert incident["agencies"] == ["d1"] and incident["other_agencies"] == 1
        login(client, "auditor")
        assert client.get("/api/v1/audit/verify").json()["intact"] is True
        login(client, "city")
        matches = client.get("/api/v1/alerts", params={"rule": "ioc_match_ip"}).json()
        assert sorted(a["agency"] for a in matches["items"]) == ["d1", "tanbinh"]
