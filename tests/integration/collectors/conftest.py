"""Stand-in servers on 127.0.0.1 for the collector sinks: Elasticsearch bulk and SOC ingest;
``stored``, what a store file holds, read without disturbing a running collector; and
``write_flows``, a large EVE file of distinct flow records.

They implement just enough of each protocol for the sinks (and the CLI in a subprocess) to
be exercised over real HTTP: documents are kept in memory by id, so re-sends show up as 409
conflicts (Elasticsearch) or duplicates (SOC API).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class FakeElastic(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ElasticHandler)
        self.docs: dict[str, dict[str, Any]] = {}
        self.installed: list[str] = []
        self.conflicts = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ElasticHandler(BaseHTTPRequestHandler):
    server: FakeElastic

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        self._reply(200, {"version": {"number": "9.1.0"}, "tagline": "You Know, for Search"})

    def do_PUT(self) -> None:
        if self.path.split("?")[0].endswith("/_bulk"):
            return self.do_POST()
        self._body()
        self.server.installed.append(self.path.split("?")[0])
        return self._reply(200, {"acknowledged": True})

    def do_POST(self) -> None:
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        items = []
        with self.server.lock:
            for header, doc in zip(lines[0::2], lines[1::2], strict=True):
                target = header["create"]
                key = f"{target['_index']}/{target['_id']}"
                if key in self.server.docs:
                    self.server.conflicts += 1
                    items.append({"create": {"_id": target["_id"], "status": 409}})
                else:
                    self.server.docs[key] = doc
                    items.append({"create": {"_id": target["_id"], "status": 201}})
        self._reply(
            200, {"errors": any(i["create"]["status"] != 201 for i in items), "items": items}
        )


@pytest.fixture
def fake_elastic() -> Iterator[FakeElastic]:
    server = FakeElastic()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stored(db: Path) -> tuple[int, int]:
    """(rows, distinct event ids) in the store, read without disturbing the collector."""
    if not db.exists():
        return 0, 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            row = conn.execute('SELECT COUNT(*), COUNT(DISTINCT "event.id") FROM events').fetchone()
        except sqlite3.OperationalError:
            return 0, 0
    return int(row[0]), int(row[1])


@pytest.fixture
def stored() -> Callable[[Path], tuple[int, int]]:
    return _stored


WriteFlows = Callable[[Path, int], None]


def _write_flows(path: Path, count: int) -> None:
    with path.open("w") as out:
        for n in range(count):
            stamp = f"2026-11-20T02:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000"
            record = {
                "timestamp": stamp + "+0000", "flow_id": 1_000_000 + n, "event_type": "flow",
                "src_ip": f"10.20.{n % 250}.{n % 200 + 1}", "src_port": 40000 + n % 20000,
                "dest_ip": "10.10.0.20", "dest_port": 443, "proto": "TCP",
                "flow": {"pkts_toserver": 5, "pkts_toclient": 4, "bytes_toserver": 600,
                         "bytes_toclient": 3000, "state": "closed"},
            }  # fmt: skip
            out.write(json.dumps(record) + "\n")


@pytest.fixture
def write_flows() -> WriteFlows:
    """Writes ``count`` EVE flow lines, each a distinct event, to a file."""
    return _write_flows
