"""The SOC API sink against a mocked transport: NDJSON, token, 413 split, 429 wait, 401."""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest

from citysoc.core.errors import StoreError
from collectors.delivery.http_sink import ApiSink


def events(n: int) -> list[dict[str, object]]:
    return [{"event.id": f"e{i}", "@timestamp": "2026-11-20T00:00:00.000Z"} for i in range(n)]


def api(handler: httpx.MockTransport, waits: list[float] | None = None) -> ApiSink:
    client = httpx.Client(transport=handler)
    return ApiSink(
        "http://soc.test",
        "tok-123",
        client=client,
        sleep=(waits if waits is not None else []).append,
    )


def answer(lines: list[str]) -> httpx.Response:
    return httpx.Response(
        200, json={"stored": len(lines), "duplicates": 0, "rejected": 0, "errors": []}
    )


def test_posts_ndjson_with_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request.content.decode().splitlines())

    result = api(httpx.MockTransport(handler)).write(events(3))
    assert result.inserted == 3
    request = seen[0]
    assert request.url.path == "/api/v1/ingest"
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line)["event.id"] for line in request.content.decode().splitlines()] == [
        "e0",
        "e1",
        "e2",
    ]


def test_a_body_too_large_is_split_until_it_fits() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        lines = request.content.decode().splitlines()
        return httpx.Response(413) if len(lines) > 2 else answer(lines)

    assert api(httpx.MockTransport(handler)).write(events(7)).inserted == 7


def test_rate_limiting_waits_retry_after() -> None:
    calls, waits = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"})
        return httpx.Response(
            200,
            json={
                "stored": 1,
                "duplicates": 1,
                "rejected": 0,
                "errors": [{"line": 2, "message": "dup"}],
            },
        )

    result = api(httpx.MockTransport(handler), waits).write(events(2))
    assert waits == [3.0] and (result.inserted, result.duplicates) == (1, 1)


@pytest.mark.parametrize("status", [401, 500])
def test_refusals_and_server_errors_keep_the_batch_for_later(status: int) -> None:
    sink = api(httpx.MockTransport(lambda _r: httpx.Response(status)))
    with pytest.raises(StoreError):
        sink.write(events(1))


def test_an_unreachable_api_is_a_store_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(StoreError, match="unreachable"):
        api(httpx.MockTransport(handler)).write(events(1))
