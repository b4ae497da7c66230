"""Conversation-state store: per-conversation lock, JSON state with TTL, dedupe claims, small KV.

One Protocol (`SessionStore`), two implementations that pass one contract suite
(tests/storage/test_state_contract.py):

* `MemorySessionStore` -- one process only (dev, tests, the CLI channel).
* `RedisSessionStore` -- shared by every worker process; the lock is a Redis lease.

Usage (the order matters: take the lock *before* loading, or two messages of one conversation
can both load the old state and one update is lost)::

    async with store.lock(conversation_key):
        state = await store.load(conversation_key) or {}
        ...
        await store.save(conversation_key, state, ttl_seconds=1800)

Wiring: ``store = make_session_store(settings.redis_url, prefix)`` does no I/O; call
``await store.connect()`` once at start-up (app lifespan) to fail fast when Redis is
unreachable. Without it the first operation raises `StorageError` instead -- a configured Redis
URL never silently degrades to the in-process store.

Keys live in separate namespaces per kind, so ``save("k", ...)``, ``claim("k", ...)``,
``set_value("k", ...)`` and ``lock("k")`` never collide.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from storage.errors import LockTimeout, StorageError

__all__ = [
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionStore",
    "make_session_store",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_LOCK_LEASE = 10.0  # short: renewed while held, so a dead owner blocks ≤ 10 s
_CALL_TIMEOUT = 5.0  # seconds for any single Redis round trip, connecting included
REDIS_POOL_SIZE = 64  # connections per process; more callers wait for one (within _CALL_TIMEOUT)


def redis_client(url: str, *, max_connections: int = REDIS_POOL_SIZE) -> aioredis.Redis:
    """A Redis client whose pool makes a caller wait for a free connection.

    redis-py's default pool fails at once with "Too many connections" past 100 calls in flight.
    A burst of 600 WeChat messages reached that, and the session store took it for a Redis
    outage: every call went to the database fallback, far slower, and every reply was late.
    Waiting is bounded by each call's own timeout (``_call``), which is cancellation-safe.
    No socket_timeout on purpose: with it redis-py wraps every write in asyncio.wait_for,
    which on Python 3.11 can swallow a task cancellation.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=None,
        decode_responses=True,
        socket_connect_timeout=_CALL_TIMEOUT,
        socket_timeout=None,
    )
    return aioredis.Redis(connection_pool=pool)


class SessionStore(Protocol):
    """Per-conversation state shared by everything that handles one conversation."""

    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        """Hold the conversation's mutual-exclusion lock for the ``async with`` block.

        Not re-entrant: taking the same key again inside the block waits for itself and times
        out. The lock is released when the block exits, also on an exception or cancellation.

        Args:
            key: the conversation key, e.g. ``"wechat:<openid>"``.
            timeout: seconds to wait for the lock; ``0`` tries exactly once.

        Raises:
            LockTimeout: the lock was still held by someone else after ``timeout`` seconds.
            StorageError: the backend failed.
        """
        ...

    async def load(self, key: str) -> dict[str, Any] | None:
        """Load the conversation state.

        Args:
            key: the conversation key.

        Returns:
            A fresh copy of the saved state (mutating it changes nothing stored), or ``None``
            when the key was never saved, was deleted, or its TTL ran out.

        Raises:
            StorageError: the backend failed or holds something that is not a JSON object.
        """
        ...

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        """Replace the conversation state and (re)start its time-to-live.

        The state goes through JSON, so tuples come back as lists and keys as strings.

        Args:
            key: the conversation key.
            state: a JSON-serialisable mapping.
            ttl_seconds: seconds until the state expires; must be positive.

        Raises:
            StorageError: the state is not JSON-serialisable or the backend failed.
            ValueError: ``ttl_seconds`` is not positive.
        """
        ...

    async def delete(self, key: str) -> None:
        """Forget the conversation state; deleting an absent key is not an error.

        Args:
            key: the conversation key. Claims, values and locks of the same key are untouched.

        Raises:
            StorageError: the backend failed.
        """
        ...

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        """Claim a key once (SET NX): the dedupe primitive for platform retries.

        Args:
            key: what to claim, e.g. ``"wechat:msg:<MsgId>"``.
            ttl_seconds: how long the claim lasts; must be positive.

        Returns:
            ``True`` for the first claim within ``ttl_seconds`` across all processes sharing
            the backend; ``False`` while an earlier claim is still alive.

        Raises:
            StorageError: the backend failed.
            ValueError: ``ttl_seconds`` is not positive.
        """
        ...

    async def get_value(self, key: str) -> str | None:
        """Read a small shared string (e.g. a platform access token).

        Args:
            key: the value's key.

        Returns:
            The value, or ``None`` when absent or expired.

        Raises:
            StorageError: the backend failed.
        """
        ...

    async def set_value(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        """Write a small shared string, replacing any previous value and its TTL.

        Args:
            key: the value's key.
            value: the string to store.
            ttl_seconds: seconds until it expires; ``None`` keeps it until overwritten.

        Raises:
            StorageError: the backend failed.
            ValueError: ``ttl_seconds`` is given and not positive.
        """
        ...

    async def connect(self) -> None:
        """Check the backend is reachable; call once at start-up to fail fast.

        Raises:
            StorageError: the backend cannot be reached (the message names it, without
                credentials).
        """
        ...

    async def close(self) -> None:
        """Release connections; idempotent. The store must not be used afterwards."""
        ...


# --------------------------------------------------------------------------------------------
# Shared helpers: both stores encode the same way so they behave the same.


def _check_ttl(ttl_seconds: int | None, *, optional: bool = False) -> None:
    if ttl_seconds is None and optional:
        return
    if not isinstance(ttl_seconds, int) or isinstance(ttl_seconds, bool) or ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be a positive int, got {ttl_seconds!r}")


def _encode_state(state: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(state), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise StorageError(f"conversation state is not JSON-serialisable: {e}") from e


def _decode_state(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise StorageError("stored conversation state is not valid JSON") from e
    if not isinstance(value, dict):
        raise StorageError(f"stored conversation state is a {type(value).__name__}, not an object")
    return value


# --------------------------------------------------------------------------------------------
# In-process store


@dataclass(slots=True)
class _LockSlot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders + waiters; the slot is dropped when it reaches 0


class MemorySessionStore:
    """`SessionStore` for one process: dicts plus one `asyncio.Lock` per busy key.

    Expiry is checked against ``clock`` (``time.monotonic`` by default), so tests advance a
    fake clock instead of sleeping. Lock waits use real event-loop time.
    """

    _SWEEP_EVERY = 512  # writes between sweeps of expired entries, so memory stays bounded

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        # kind -> key -> (value, expires_at or None)
        self._states: dict[str, tuple[str, float | None]] = {}
        self._claims: dict[str, tuple[str, float | None]] = {}
        self._values: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, _LockSlot] = {}
        self._writes = 0

    @asynccontextmanager
    async def _locked(self, key: str, wait: float) -> AsyncIterator[None]:
        slot = self._locks.get(key)
        if slot is None:
            slot = self._locks[key] = _LockSlot()
        slot.users += 1
        try:
            try:
                # asyncio.timeout (not wait_for): Lock.acquire is cancellation-safe, so a
                # timeout never leaves the lock acquired with nobody to release it.
                async with asyncio.timeout(max(wait, 0.0)):
                    await slot.lock.acquire()
            except TimeoutError as e:
                raise LockTimeout(f"conversation lock not acquired within {wait:g} s") from e
            try:
                yield
            finally:
                slot.lock.release()
        finally:
            slot.users -= 1
            if slot.users == 0 and self._locks.get(key) is slot:
                del self._locks[key]  # idle: forget it so one-off keys don't accumulate

    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        return self._locked(key, timeout)

    def _get(self, table: dict[str, tuple[str, float | None]], key: str) -> str | None:
        entry = table.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            del table[key]
            return None
        return value

    def _put(
        self, table: dict[str, tuple[str, float | None]], key: str, value: str, ttl: int | None
    ) -> None:
        table[key] = (value, None if ttl is None else self._clock() + ttl)
        self._writes += 1
        if self._writes % self._SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        now = self._clock()
        for table in (self._states, self._claims, self._values):
            expired = [k for k, (_, exp) in table.items() if exp is not None and now >= exp]
            for k in expired:
                del table[k]

    async def load(self, key: str) -> dict[str, Any] | None:
        raw = self._get(self._states, key)
        return None if raw is None else _decode_state(raw)

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        self._put(self._states, key, _encode_state(state), ttl_seconds)

    async def delete(self, key: str) -> None:
        self._states.pop(key, None)

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        _check_ttl(ttl_seconds)
        if self._get(self._claims, key) is not None:
            return False
        self._put(self._claims, key, "1", ttl_seconds)
        return True

    async def get_value(self, key: str) -> str | None:
        return self._get(self._values, key)

    async def set_value(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        _check_ttl(ttl_seconds, optional=True)
        self._put(self._values, key, value, ttl_seconds)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None


# --------------------------------------------------------------------------------------------
# Redis store

# Delete the lock only if it still holds our token: after our lease ran out another process may
# own it, and a plain DEL would break its mutual exclusion.
_RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# Extend the lease only while it still holds our token (a live owner renews; a dead one can't).
_RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _text(value: bytes | str | None) -> str | None:
    # The client decodes responses; bytes only appear in redis-py's type hints.
    return value.decode() if isinstance(value, bytes) else value


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


class RedisSessionStore:
    """`SessionStore` on Redis, shared by every process using the same URL and prefix.

    Keys are ``<prefix><kind>:<key>`` with kind ``state``, ``claim``, ``kv`` or ``lock``.
    The lock is ``SET NX PX <lease>`` with a random token, retried with capped exponential
    backoff until ``timeout``; release is a Lua compare-and-delete of our own token. The lease
    (``lock_lease_seconds``) bounds how long a crashed process can block a conversation; a live
    owner renews it every third of the lease, so a slow turn keeps its lock.

    Constructing the store does no I/O; see `connect`.
    """

    _BACKOFF_START = 0.002
    _BACKOFF_CAP = 0.05

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "minhu:",
        lock_lease_seconds: float = DEFAULT_LOCK_LEASE,
    ) -> None:
        if lock_lease_seconds <= 0:
            raise ValueError(f"lock_lease_seconds must be positive, got {lock_lease_seconds!r}")
        self._url = _redact(url)
        self._prefix = prefix
        self._lease_ms = max(1, round(lock_lease_seconds * 1000))
        try:
            self._redis: aioredis.Redis = redis_client(url)  # calls bounded by `_call`
        except (ValueError, RedisError) as e:
            raise StorageError(f"invalid Redis URL {self._url}: {e}") from e
        self._release_script = self._redis.register_script(_RELEASE_LUA)
        self._renew_script = self._redis.register_script(_RENEW_LUA)
        self._closed = False

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    async def _call(self, what: str, op: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(_CALL_TIMEOUT):
                return await op
        except TimeoutError as e:
            raise StorageError(
                f"Redis {what} timed out after {_CALL_TIMEOUT:g} s ({self._url})"
            ) from e
        except (RedisError, OSError) as e:
            raise StorageError(f"Redis {what} failed ({self._url}): {e}") from e

    async def _acquire(self, name: str, token: str, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait, 0.0)
        delay = self._BACKOFF_START
        while not await self._call(
            "lock", self._redis.set(name, token, nx=True, px=self._lease_ms)
        ):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockTimeout(f"conversation lock not acquired within {wait:g} s")
            # Jitter so many waiters don't poll in lockstep.
            await asyncio.sleep(min(remaining, delay * (0.5 + secrets.randbelow(1000) / 1000)))
            delay = min(delay * 2, self._BACKOFF_CAP)

    async def _renew(self, name: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            with suppress(StorageError):  # a missed renewal only shortens the lease
                await self._call(
                    "renew", self._renew_script(keys=[name], args=[token, self._lease_ms])
                )

    async def _release(self, name: str, token: str) -> bool:
        released = await self._call("unlock", self._release_script(keys=[name], args=[token]))
        return bool(released)

    @asynccontextmanager
    async def _locked(self, key: str, wait: float) -> AsyncIterator[None]:
        name = self._key("lock", key)
        token = secrets.token_hex(16)
        try:
            await self._acquire(name, token, wait)
        except asyncio.CancelledError:
            # The SET may have reached Redis just before the cancellation: give the lock back
            # now rather than blocking the conversation for a whole lease. Best effort only --
            # the CancelledError is what must propagate; the lease covers a failed release.
            with suppress(StorageError):
                await self._release(name, token)
            raise
        renewal = asyncio.create_task(self._renew(name, token), name=f"lease:{key}")
        try:
            yield
        finally:
            renewal.cancel()
            with suppress(asyncio.CancelledError):
                await renewal
            if not await self._release(name, token):
                # Our lease ran out inside the block: another holder may have run concurrently.
                log.warning(
                    "conversation lock lease (%d ms) expired before release; raise "
                    "lock_lease_seconds or shorten the locked section",
                    self._lease_ms,
                )

    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        return self._locked(key, timeout)

    async def ping(self) -> None:
        """Readiness: raise StorageError unless Redis answers."""
        await self._call("PING", self._redis.ping())

    async def load(self, key: str) -> dict[str, Any] | None:
        raw = _text(await self._call("GET", self._redis.get(self._key("state", key))))
        return None if raw is None else _decode_state(raw)

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        raw = _encode_state(state)
        await self._call("SET", self._redis.set(self._key("state", key), raw, ex=ttl_seconds))

    async def delete(self, key: str) -> None:
        await self._call("DEL", self._redis.delete(self._key("state", key)))

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        _check_ttl(ttl_seconds)
        ok = await self._call(
            "SET NX", self._redis.set(self._key("claim", key), "1", nx=True, ex=ttl_seconds)
        )
        return bool(ok)

    async def get_value(self, key: str) -> str | None:
        return _text(await self._call("GET", self._redis.get(self._key("kv", key))))

    async def set_value(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        _check_ttl(ttl_seconds, optional=True)
        await self._call("SET", self._redis.set(self._key("kv", key), value, ex=ttl_seconds))

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(_CALL_TIMEOUT):
                await self._redis.ping()
        except (RedisError, OSError) as e:  # OSError includes TimeoutError
            raise StorageError(f"Redis at {self._url} is unreachable: {e!r}") from e

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._redis.aclose(close_connection_pool=True)


def make_session_store(redis_url: str | None, prefix: str) -> SessionStore:
    """Build the configured store without doing I/O; call ``await store.connect()`` next.

    Args:
        redis_url: ``redis://``, ``rediss://`` or ``unix://`` URL, or ``None`` for the
            in-process store. An empty string is refused rather than read as "unset".
        prefix: namespace for every Redis key, e.g. ``"minhu:"`` (ignored in memory).

    Returns:
        A `RedisSessionStore` when a URL is given, else a `MemorySessionStore`.

    Raises:
        StorageError: the URL is empty or not a Redis URL. There is never a fallback to memory.
    """
    if redis_url is None:
        return MemorySessionStore()
    scheme = urlsplit(redis_url).scheme
    if scheme not in _REDIS_SCHEMES:
        raise StorageError(
            f"Redis URL must start with one of {', '.join(s + '://' for s in _REDIS_SCHEMES)}; "
            f"got {_redact(redis_url)!r} (leave it unset to use the in-process store)"
        )
    return RedisSessionStore(redis_url, prefix=prefix)
