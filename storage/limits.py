"""Abuse limits: atomic counters (login failures) and token buckets (messages, uploads, tickets).

One Protocol (`Limiter`), two implementations passing one contract suite
(tests/storage/test_limits_contract.py): `MemoryLimiter` for one process (dev, tests) and
`RedisLimiter` shared by every process. Both are atomic: the Redis one runs each decision as
one Lua script, the memory one has no ``await`` between read and write. That is what makes a
burst of 40 parallel logins count 40 attempts, not 1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import StorageError
from storage.state import redis_client

_T = TypeVar("_T")
log = logging.getLogger("minhu.limits")
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
            self._redis: aioredis.Redis = redis_client(url)
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
        await self._redis.aclose(close_connection_pool=True)


class ResilientLimiter:
    """Redis while it answers; this process's own buckets while it does not.

    A limit must never be the reason a resident's message is lost: when Redis is down every
    decision falls back to an in-process `MemoryLimiter` (limits then hold per process, not
    across replicas), Redis is tried again after ``retry_seconds``, and each outage is logged
    once and counted (``fallback_calls``, exported as a metric).
    """

    def __init__(
        self, primary: Limiter, fallback: Limiter | None = None, *, retry_seconds: float = 2.0
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryLimiter()
        self.retry_seconds = retry_seconds
        self.fallback_calls = 0
        self._down_until = 0.0

    async def _either(
        self,
        what: str,
        on_primary: Callable[[], Awaitable[_T]],
        on_fallback: Callable[[], Awaitable[_T]],
    ) -> _T:
        now = time.monotonic()
        if now >= self._down_until:
            try:
                result = await on_primary()
            except StorageError as e:
                if self._down_until == 0.0:
                    log.warning("limits: Redis unreachable (%s); this process keeps its own", e)
                self._down_until = now + self.retry_seconds
            else:
                if self._down_until:
                    log.warning("limits: Redis is back; limits are shared again")
                self._down_until = 0.0
                return result
        self.fallback_calls += 1
        return await on_fallback()

    async def hit(self, key: str, *, window_seconds: int) -> int:
        return await self._either(
            "hit",
            lambda: self.primary.hit(key, window_seconds=window_seconds),
            lambda: self.fallback.hit(key, window_seconds=window_seconds),
        )

    async def reset(self, key: str) -> None:
        await self.fallback.reset(key)
        await self._either("reset", lambda: self.primary.reset(key), _nothing)

    async def take(self, key: str, *, per_minute: float, burst: int) -> float:
        return await self._either(
            "take",
            lambda: self.primary.take(key, per_minute=per_minute, burst=burst),
            lambda: self.fallback.take(key, per_minute=per_minute, burst=burst),
        )

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()


async def _nothing() -> None:
    return None


def make_limiter(redis_url: str | None, prefix: str) -> Limiter:
    """Redis when configured (shared by all processes, in-process while it is down), else
    in-process."""
    if redis_url:
        return ResilientLimiter(RedisLimiter(redis_url, prefix=prefix))
    return MemoryLimiter()
