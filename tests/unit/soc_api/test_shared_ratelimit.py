"""The login limit kept in the SOC state: one budget for every process that shares it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from soc_api.db import init_state, make_engine
from soc_api.errors import RateLimitedError
from soc_api.shared_ratelimit import RateBucket, SharedTokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def spent(bucket: SharedTokenBucket, key: str, times: int) -> list[bool]:
    outcomes = []
    for _ in range(times):
        try:
            bucket.take(key, "login attempts")
            outcomes.append(True)
        except RateLimitedError:
            outcomes.append(False)
    return outcomes


def test_two_processes_share_one_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    clock = Clock()
    # two session factories on two engines: as two worker processes see the one database
    first = SharedTokenBucket(init_state(make_engine(url)), rate=3 / 60, burst=3, clock=clock)
    second = SharedTokenBucket(init_state(make_engine(url)), rate=3 / 60, burst=3, clock=clock)
    outcomes = [spent(b, "login:account:city", 1)[0] for b in (first, second, first, second)]
    assert outcomes == [True, True, True, False]
    with pytest.raises(RateLimitedError) as refused:
        second.take("login:account:city", "login attempts")
    assert 19 <= refused.value.retry_after <= 20  # one token at 3 a minute
    assert spent(first, "login:client:198.51.100.7", 1) == [True]  # another key, its own budget


def test_the_bucket_refills_with_time_and_stores_no_name(tmp_path: Path) -> None:
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    clock = Clock()
    bucket = SharedTokenBucket(sessions, rate=1.0, burst=2, clock=clock)
    assert spent(bucket, "login:account:mallory", 3) == [True, True, False]
    clock.now += 1.0
    assert spent(bucket, "login:account:mallory", 2) == [True, False]
    clock.now -= 30.0  # a clock set back gives nothing, takes nothing
    assert spent(bucket, "login:account:mallory", 1) == [False]
    with sessions() as session:
        keys = session.scalars(select(RateBucket.key)).all()
    assert keys and all("mallory" not in k and len(k) == 64 for k in keys)


def test_idle_buckets_are_forgotten(tmp_path: Path) -> None:
    sessions = init_state(make_engine(f"sqlite:///{tmp_path / 'soc.db'}"))
    clock = Clock()
    bucket = SharedTokenBucket(sessions, rate=1.0, burst=2, clock=clock)
    for n in range(5):
        bucket.take(f"login:client:{n}", "login attempts")
    clock.now += 3600
    bucket.take("login:client:new", "login attempts")
    with sessions() as session:
        assert len(session.scalars(select(RateBucket.key)).all()) == 1
