"""One contract for both limiters: atomic counters and token buckets (storage/limits.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from storage.limits import Limiter, MemoryLimiter, RedisLimiter, ResilientLimiter


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services), "redis-down"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    if request.param == "redis-down":
        # nothing listens: every decision must still be made (in-process), never raise
        down = ResilientLimiter(RedisLimiter(f"redis://127.0.0.1:{_closed_port()}/0"))
        yield down
        assert down.fallback_calls > 0
        await down.close()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    real = RedisLimiter(url, prefix=prefix)
    try:
        yield real
    finally:
        await real.close()


async def test_hit_counts_every_one_of_a_parallel_burst(limiter: Limiter) -> None:
    counts = await asyncio.gather(*(limiter.hit("burst", window_seconds=60) for _ in range(40)))
    assert sorted(counts) == list(range(1, 41))


async def test_reset_starts_the_count_again(limiter: Limiter) -> None:
    await limiter.hit("k", window_seconds=60)
    await limiter.hit("k", window_seconds=60)
    await limiter.reset("k")
    assert await limiter.hit("k", window_seconds=60) == 1


async def test_bucket_allows_the_burst_then_says_how_long_to_wait(limiter: Limiter) -> None:
    waits = [await limiter.take("b", per_minute=6, burst=3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 10.0
    # another key has its own bucket
    assert await limiter.take("other", per_minute=6, burst=3) == 0.0


async def test_bucket_refills_with_time() -> None:
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    assert await limiter.take("b", per_minute=60, burst=1) == 0.0
    assert await limiter.take("b", per_minute=60, burst=1) > 0
    now[0] += 1.0
    assert await limiter.take("b", per_minute=60, burst=1) == 0.0


async def test_parallel_takes_never_exceed_the_burst(limiter: Limiter) -> None:
    waits = await asyncio.gather(*(limiter.take("p", per_minute=1, burst=5) for _ in range(30)))
    assert sum(1 for w in waits if w == 0.0) == 5
