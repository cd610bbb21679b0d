"""A throwaway PostgreSQL database for the SOC API benchmark, on the machine's own cluster.

Needs root and Debian's ``postgresql``; the cluster is started if it is down, a role and a
database with random names are created on 127.0.0.1 and dropped afterwards.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def psql(sql: str) -> str:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"psql failed: {done.stderr.strip()}")
    return done.stdout


def ensure_running() -> int:
    """Start the first cluster if it is down; its port."""
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    if listed.returncode != 0 or not listed.stdout.strip():
        raise SystemExit("no PostgreSQL cluster: apt-get install postgresql")
    version, name, port, status = listed.stdout.splitlines()[0].split()[:4]
    if status != "online":
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True, timeout=60)
    return int(port)


@contextmanager
def throwaway_database() -> Iterator[str]:
    port = ensure_running()
    name = f"citysoc_bench_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    psql(f"CREATE DATABASE {name} OWNER {name}")
    try:
        yield f"postgresql+psycopg://{name}:{password}@127.0.0.1:{port}/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"DROP ROLE IF EXISTS {name}")
