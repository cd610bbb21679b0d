"""Who a credential stood for a moment ago: a short per-process memory of token and session
look-ups, so a burst of requests with one credential does not read it from the database each
time.

The bound: an entry is used for at most :data:`TTL_SECONDS` after its look-up, and never past
its credential's own expiry. A revocation in this process (logout, ``token revoke`` through the
API or console, a user changed or disabled) forgets every entry at once; one made by another
process (the CLI, another API worker) is refused within :data:`TTL_SECONDS`. Failed look-ups
are not kept: a refused credential is read again every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from soc_api.auth.models import Principal

__all__ = ["TTL_SECONDS", "RecentCredentials", "recent"]

TTL_SECONDS = 1.0
MAX_ENTRIES = 4096


def _epoch(stamp: str) -> float:
    """``2026-12-02T09:00:00Z`` as seconds since the epoch."""
    return datetime.fromisoformat(stamp).timestamp()


class RecentCredentials:
    """Principals by (kind, database, credential digest), each for a short time."""

    def __init__(
        self,
        ttl: float = TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int, str], tuple[float, float, Principal]] = {}

    @staticmethod
    def key(kind: str, session: Session, digest: str) -> tuple[str, int, str]:
        """The entry's key: one database's credential (a process may serve several states)."""
        return kind, id(session.get_bind()), digest

    def get(self, key: tuple[str, int, str]) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        looked_up, expires, principal = entry
        if self._clock() - looked_up >= self.ttl or self._wall() >= expires:
            with self._lock:
                self._entries.pop(key, None)
            return None
        return principal

    def put(self, key: tuple[str, int, str], principal: Principal, expires_at: str) -> None:
        """Keep ``principal`` for ``key``; ``expires_at`` is the credential's own end."""
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                now = self._clock()
                for old in [k for k, e in self._entries.items() if now - e[0] >= self.ttl]:
                    del self._entries[old]
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (self._clock(), _epoch(expires_at), principal)

    def forget_all(self) -> None:
        """A credential was revoked in this process: nothing kept is trusted any more."""
        with self._lock:
            self._entries.clear()


recent = RecentCredentials()
