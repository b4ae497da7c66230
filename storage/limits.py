"""Abuse limits: atomic counters (login failures) and token buckets (messages, uploads, tickets).

One Protocol (`Limiter`), two implementations passing one contract suite
(tests/storage/test_limits_contract.py): `MemoryLimiter` for one process (dev, tests) and
`RedisLimiter` shared by every process. Both are atomic: the Redis one runs each decision as
one Lua script, the memory one has no ``await`` between read and write. That is what makes a
burst of 40 parallel logins count 40 attempts, not 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import StorageError

_T = TypeVar("_T")
_CALL_TIMEOUT = 5.0


class Limiter(Protocol):
    async def hit(self, key: str, *, window_seconds: int) -> int:
        """Count one event in a fixed window that starts at the key's first event.

        Returns:
            The count including this event (so the caller can refuse past a limit).

        Raises:
            StorageError: the backend failed.
        """
        ...

    async def reset(self, key: str) -> None:
        """Forget a counter (a successful login, an admin's unlock)."""
        ...

    async def take(self, key: str, *, per_minute: float, burst: int) -> float:
        """Take one token from a bucket refilled at ``per_minute`` up to ``burst`` tokens.

        Returns:
            0.0 when a token was taken, else the seconds until one is available.

        Raises:
            StorageError: the backend failed.
        """
        ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """`Limiter` for one process; ``clock`` (seconds) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._counters: dict[str, tuple[int, float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    def _sweep(self, now: float) -> None:
        if len(self._counters) > 10_000:
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        if len(self._buckets) > 10_000:
            self._buckets.clear()  # full buckets again: generous, never wrong for a user

    async def hit(self, key: str, *, window_seconds: int) -> int:
        now = self._clock()
        count, expires = self._counters.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + window_seconds
        count += 1
        self._counters[key] = (count, expires)
        self._sweep(now)
        return count

    async def reset(self, key: str) -> None:
        self._counters.pop(key, None)

    async def take(self, key: str, *, per_minute: float, burst: int) -> float:
        now = self._clock()
        rate = per_minute / 60.0
        tokens, at = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._sweep(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    async def close(self) -> None:
        return None


_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# tokens and timestamp in one hash; TIME is the server's clock, so every process agrees
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisLimiter:
    """`Limiter` on Redis: keys ``<prefix>limit:<key>``; one Lua script per decision."""

    def __init__(self, url: str, *, prefix: str = "minhu:") -> None:
        self._prefix = prefix
        try:
            self._redis: aioredis.Redis = aioredis.from_url(
                url, decode_responses=True, socket_connect_timeout=_CALL_TIMEOUT
            )
        except (ValueError, RedisError) as e:
            raise StorageError(f"invalid Redis URL for the limiter: {e}") from e
        self._hit = self._redis.register_script(_HIT_LUA)
        self._take = self._redis.register_script(_TAKE_LUA)

    def _key(self, key: str) -> str:
        return f"{self._prefix}limit:{key}"

    async def _call(self, what: str, op: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(_CALL_TIMEOUT):
                return await op
        except TimeoutError as e:
            raise StorageError(f"Redis {what} timed out") from e
        except (RedisError, OSError) as e:
            raise StorageError(f"Redis {what} failed: {e}") from e

    async def hit(self, key: str, *, window_seconds: int) -> int:
        result = await self._call(
            "limit hit", self._hit(keys=[self._key(key)], args=[max(1, window_seconds)])
        )
        return int(result)

    async def reset(self, key: str) -> None:
        await self._call("limit reset", self._redis.delete(self._key(key)))

    async def take(self, key: str, *, per_minute: float, burst: int) -> float:
        result = await self._call(
            "limit take",
            self._take(keys=[self._key(key)], args=[per_minute / 60.0, max(1, burst)]),
        )
        return float(result)

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None, prefix: str) -> Limiter:
    """Redis when configured (shared by all processes), else in-process."""
    if redis_url:
        return RedisLimiter(redis_url, prefix=prefix)
    return MemoryLimiter()
