"""The SOC API sink: ``POST /api/v1/ingest`` with one flat ECS event per NDJSON line.

The API answers 200 with ``{"stored", "duplicates", "rejected", "errors"}``, 401 without a
valid collector token, 413 when the body is over its limit (the batch is then split in
halves and sent again, down to single events, which are rejected) and 429 when rate limited
(the sink waits ``Retry-After`` seconds, at most ``max_wait``). Anything else, or a network
failure, raises :class:`StoreError` so the shipper keeps the batch buffered and retries.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

import httpx2 as httpx
from pydantic import BaseModel, ValidationError

from citysoc.core.ecs import Event
from citysoc.core.errors import StoreError
from eventstore.base import WriteResult

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"


class IngestError(BaseModel):
    line: int
    message: str


class IngestAnswer(BaseModel):
    """The SOC API's answer to a bulk ingest."""

    stored: int
    duplicates: int
    rejected: int
    errors: list[IngestError] = []


class ApiSink:
    """Posts batches to the SOC API's bulk ingest endpoint."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_wait: float = 60.0,
        rate_limit_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + INGEST_PATH
        self.client = client or httpx.Client(timeout=timeout)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
        }
        self.max_wait = max_wait
        self.rate_limit_retries = rate_limit_retries
        self.sleep = sleep

    def close(self) -> None:
        self.client.close()

    def write(self, events: Sequence[Event]) -> WriteResult:
        if not events:
            return WriteResult(0, 0, 0)
        body = b"".join(
            json.dumps(event, separators=(",", ":"), default=str).encode() + b"\n"
            for event in events
        )
        for _ in range(self.rate_limit_retries + 1):
            response = self._post(body)
            if response.status_code == 429:
                wait = _retry_after(response, self.max_wait)
                log.warning("SOC API rate limit: waiting %.1fs", wait)
                self.sleep(wait)
                continue
            if response.status_code == 413:
                return self._split(events)
            return self._answer(response, len(events))
        raise StoreError("SOC API kept rate limiting the collector; will retry")

    def _post(self, body: bytes) -> httpx.Response:
        try:
            return self.client.post(self.url, content=body, headers=self.headers)
        except httpx.HTTPError as exc:
            raise StoreError(f"SOC API unreachable at {self.url}: {exc}") from exc

    def _split(self, events: Sequence[Event]) -> WriteResult:
        if len(events) == 1:
            log.warning("SOC API refused event %s as too large", events[0].get("event.id"))
            return WriteResult(0, 0, 1)
        half = len(events) // 2
        first, second = self.write(events[:half]), self.write(events[half:])
        return WriteResult(
            first.inserted + second.inserted,
            first.duplicates + second.duplicates,
            first.rejected + second.rejected,
        )

    def _answer(self, response: httpx.Response, sent: int) -> WriteResult:
        if response.status_code == 401:
            raise StoreError("SOC API refused the collector token (401); check it")
        if response.status_code != 200:
            raise StoreError(f"SOC API answered {response.status_code}: {response.text[:200]}")
        try:
            answer = IngestAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise StoreError(f"SOC API answer is not an ingest result: {exc}") from exc
        for error in answer.errors[:20]:
            log.warning("SOC API rejected line %d: %s", error.line, error.message)
        if answer.stored + answer.duplicates + answer.rejected != sent:
            log.warning("SOC API accounted for %d of %d events", answer.stored + answer.duplicates
                        + answer.rejected, sent)  # fmt: skip
        return WriteResult(answer.stored, answer.duplicates, answer.rejected)


def _retry_after(response: httpx.Response, cap: float) -> float:
    try:
        return min(cap, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0
