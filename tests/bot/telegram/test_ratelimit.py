"""Send-rate limits: per chat and overall, on the in-process store and shared through Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.notify.ratelimit import SendRateLimiter
from storage.state import MemorySessionStore, RedisSessionStore


class Seconds:
    """A wall clock the test moves (the in-process store's expiry reads the same one)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.25

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


def limiter(store: Any, seconds: Seconds | None = None, **kwargs: Any) -> SendRateLimiter:
    options: dict[str, Any] = {"namespace": "tg:", "per_second": 30, **kwargs}
    if seconds is not None:
        options["clock"] = seconds
    return SendRateLimiter(store, **options)


async def test_a_chat_gets_one_message_per_interval(seconds: Seconds) -> None:
    store = MemorySessionStore(clock=seconds)
    chats = limiter(store, seconds, recipient_interval=1)
    assert await chats.acquire("42", max_wait=0) == 0.0
    assert await chats.acquire("42", max_wait=0) > 0  # the same chat must wait ...
    assert await chats.acquire("43", max_wait=0) == 0.0  # ... another chat need not
    seconds.now += 0.6
    assert await chats.acquire("42", max_wait=0) > 0
    seconds.now += 0.5
    assert await chats.acquire("42", max_wait=0) == 0.0


async def test_no_more_than_the_global_rate_goes_out_in_one_second(seconds: Seconds) -> None:
    store = MemorySessionStore(clock=seconds)
    # two processes sharing one store
    one = limiter(store, seconds, per_second=5)
    two = limiter(store, seconds, per_second=5)
    granted = [
        await (one if i % 2 else two).acquire(f"chat-{i}", max_wait=0) == 0.0 for i in range(12)
    ]
    assert granted.count(True) == 5
    wait = await one.acquire("chat-late", max_wait=0)
    assert 0 < wait <= 1.0
    seconds.now += 1
    assert await one.acquire("chat-late", max_wait=0) == 0.0


async def test_a_waiting_sender_gets_the_slot_once_the_interval_has_passed() -> None:
    store = MemorySessionStore()
    chats = limiter(store, recipient_interval=1, poll_seconds=0.05)
    assert await chats.acquire("42", max_wait=0) == 0.0
    started = time.monotonic()
    assert await chats.acquire("42", max_wait=3) == 0.0
    assert 0.8 <= time.monotonic() - started < 2.5


async def test_an_interval_of_zero_spaces_nothing() -> None:
    chats = limiter(MemorySessionStore(), recipient_interval=0)
    assert [await chats.acquire("42", max_wait=0) for _ in range(5)] == [0.0] * 5


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisSessionStore]:
    store = RedisSessionStore(redis_url, prefix=redis_prefix)
    await store.connect()
    try:
        yield store
    finally:
        await store.close()


async def test_processes_sharing_redis_share_the_limits(redis_store: RedisSessionStore) -> None:
    one = limiter(redis_store, per_second=4, recipient_interval=1)
    two = limiter(redis_store, per_second=4, recipient_interval=1)
    assert await one.acquire("42", max_wait=0) == 0.0
    assert await two.acquire("42", max_wait=0) > 0  # the other process sees the chat is busy

    # ten senders at once at 4 a second: the last ones must wait for the third second
    async def send(i: int) -> float:
        return await (one if i % 2 else two).acquire(f"chat-{i}", max_wait=5)

    started = time.time()
    waits = await asyncio.gather(*(send(i) for i in range(10)))
    assert waits == [0.0] * 10  # all got through within max_wait ...
    assert time.time() - started >= 1.0  # ... spread over three calendar seconds
