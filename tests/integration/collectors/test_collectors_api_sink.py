"""The SOC API sink over real HTTP on 127.0.0.1 (a stand-in ingest server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from citysoc.core.errors import StoreError
from collectors.delivery.http_sink import ApiSink

TOKEN = "collector-test-token"


def events(n: int, agency: str = "d1") -> list[dict[str, Any]]:
    base = {"@timestamp": "2026-11-20T00:00:00.000Z", "event.dataset": "syslog.generic"}
    return [{**base, "event.id": f"id{i}", "organization.id": agency} for i in range(n)]


class FakeIngest(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IngestHandler)
        self.ids: set[str] = set()
        self.max_lines = 1000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _IngestHandler(BaseHTTPRequestHandler):
    server: FakeIngest

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: RET503 - every branch replies
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(401, {"detail": "bad token"})
        if (
            self.headers.get("Content-Type") != "application/x-ndjson"
            or self.path != "/api/v1/ingest"
        ):
            return self._reply(400, {"detail": "bad request"})
        lines = body.decode().splitlines()
        if len(lines) > self.server.max_lines:
            return self._reply(413, {"detail": "too large"})
        ids = [json.loads(line)["event.id"] for line in lines]
        new = set(ids) - self.server.ids
        self.server.ids |= new
        self._reply(
            200,
            {"stored": len(new), "duplicates": len(ids) - len(new), "rejected": 0, "errors": []},
        )

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_ingest() -> Iterator[FakeIngest]:
    server = FakeIngest()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_api_sink_posts_to_the_ingest_endpoint(fake_ingest: FakeIngest) -> None:
    fake_ingest.max_lines = 3
    sink = ApiSink(fake_ingest.url, TOKEN)
    first = sink.write(events(10))
    again = sink.write(events(10))
    assert (first.inserted, again.duplicates) == (10, 10)
    sink.close()


def test_api_sink_with_a_wrong_token_keeps_events(fake_ingest: FakeIngest) -> None:
    with pytest.raises(StoreError, match="401"):
        ApiSink(fake_ingest.url, "wrong").write(events(1))
    assert not fake_ingest.ids


def test_api_sink_on_a_closed_port_is_a_store_error(closed_port: int) -> None:
    with pytest.raises(StoreError, match="unreachable"):
        ApiSink(f"http://127.0.0.1:{closed_port}", TOKEN, timeout=2).write(events(1))
