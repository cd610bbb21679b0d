"""Token buckets kept in the SOC state: one budget however many API processes serve.

With several ``citysoc serve`` worker processes (``CITYSOC_API_WORKERS``), a login limit
counted in each process would give an attacker one budget per process, or per connection
the load is spread over. These buckets live in the ``rate_limits`` table instead (migration
0011), keyed by a SHA-256 of the key, so no attempted account name is stored. Spending is one
``UPDATE`` whose condition refills and checks the bucket, atomic on SQLite (its writer lock)
and on PostgreSQL (the row's lock); the clock is the wall clock, shared by the processes of
one host.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    CursorResult,
    Float,
    Index,
    String,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from soc_api.db import Base
from soc_api.errors import RateLimitedError

log = logging.getLogger(__name__)


class RateBucket(Base):
    __tablename__ = "rate_limits"
    __table_args__ = (Index("rate_limits_stamp", "stamp"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    stamp: Mapped[float] = mapped_column(Float)


def _key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


class SharedTokenBucket:
    """``rate`` tokens per second up to ``burst`` per key, as :class:`TokenBucket`, in the
    database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.rate = rate
        self.burst = burst
        self.clock = clock

    def take(self, key: str, what: str, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens of ``key``'s bucket, or raise RateLimitedError."""
        hashed, now = _key(key), self.clock()
        with self.sessions() as session, session.begin():
            if self._create(session, hashed, now):
                # a bucket idle this long is full again: its row says nothing any more
                idle = now - self.burst / self.rate - 60 if self.rate > 0 else now - 86400
                session.execute(delete(RateBucket).where(RateBucket.stamp < idle))
            elapsed = case((literal(now) > RateBucket.stamp, literal(now) - RateBucket.stamp),
                           else_=0.0)  # fmt: skip
            grown = RateBucket.tokens + elapsed * self.rate
            refilled = case((grown > self.burst, literal(self.burst)), else_=grown)
            spent: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(RateBucket)
                .where(RateBucket.key == hashed, refilled >= cost)
                .values(tokens=refilled - cost, stamp=now)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount == 1:
                return
            left = session.execute(
                select(RateBucket.tokens, RateBucket.stamp).where(RateBucket.key == hashed)
            ).one()
        tokens = min(self.burst, float(left[0]) + max(0.0, now - float(left[1])) * self.rate)
        wait = (cost - tokens) / self.rate if self.rate > 0 else 3600.0
        raise RateLimitedError(f"too many {what}: retry in {wait:.0f} s", retry_after=wait)

    def _create(self, session: Session, hashed: str, now: float) -> bool:
        """Make ``hashed``'s bucket, full, unless it exists; whether it was made here."""
        values = {"key": hashed, "tokens": self.burst, "stamp": now}
        dialect = session.get_bind().dialect.name
        statement: Any
        if dialect == "postgresql":
            statement = pg_insert(RateBucket).values(values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite_insert(RateBucket).values(values).on_conflict_do_nothing()
        else:  # pragma: no cover - the SOC state is SQLite or PostgreSQL
            if session.get(RateBucket, hashed) is not None:
                return False
            statement = insert(RateBucket).values(values)
        made: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
        return made.rowcount == 1
