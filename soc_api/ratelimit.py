"""In-process token buckets: login attempts per client address, ingest calls per token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from soc_api.errors import RateLimitedError

MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBucket:
    """``rate`` tokens per second, up to ``burst``; one bucket per key (address, token id)."""

    def __init__(
        self, *, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, what: str, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens of ``key``'s bucket, or raise RateLimitedError."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._buckets.clear()  # bounded memory; forgetting only loosens the limit
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return
            wait = (cost - bucket.tokens) / self.rate if self.rate > 0 else 3600.0
        raise RateLimitedError(f"too many {what}: retry in {wait:.0f} s", retry_after=wait)
