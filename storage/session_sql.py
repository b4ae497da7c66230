"""`SessionStore` on the database, and the Redis store that falls back to it.

`SqlSessionStore` keeps state, claims, values and lock leases in the ``sessionentry`` table.
It passes the same contract suite as the memory and Redis stores
(tests/storage/test_state_contract.py), and is what `ResilientSessionStore` uses while Redis
is unreachable: PostgreSQL is where every inbound message is written first anyway, so a Redis
outage costs a little speed, never a message.

`ResilientSessionStore` reads and writes Redis while it answers. When a call fails it logs
once, counts the outage and sends every call to the database for a short back-off before
trying Redis again. Entries written to the database during an outage win over Redis's older
ones until Redis is written again (see `load`), so a conversation does not jump back to the
state it had before the outage.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.errors import LockTimeout, StorageError
from storage.models import SessionEntry
from storage.state import (
    DEFAULT_LOCK_LEASE,
    DEFAULT_LOCK_TIMEOUT,
    SessionStore,
    _check_ttl,
    _decode_state,
    _encode_state,
)

__all__ = ["DatabaseSessionError", "ResilientSessionStore", "SqlSessionStore", "StoreHealth"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_TABLE = SessionEntry.__table__  # type: ignore[attr-defined]


class DatabaseSessionError(StorageError):
    """The database session store failed (not Redis: no reason to change over)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlSessionStore:
    """`SessionStore` on the ``sessionentry`` table (PostgreSQL or SQLite).

    Expiry is a timestamp compared at read time; expired rows are taken over by the next
    writer. A lock is a lease row (``kind='lock'``) holding its owner's token, renewed every
    third of the lease while the block runs, so a dead owner blocks the conversation for at
    most one lease.
    """

    def __init__(
        self,
        database: Database,
        *,
        lock_lease_seconds: float = DEFAULT_LOCK_LEASE,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._db = database
        self._lease = lock_lease_seconds
        self._now = clock

    # --- plumbing -------------------------------------------------------------------------

    async def _run(self, what: str, fn: Callable[[Any], Awaitable[_T]]) -> _T:
        try:
            async with self._db.engine.begin() as conn:
                return await fn(conn)
        except SQLAlchemyError as e:
            raise DatabaseSessionError(f"database session store {what} failed: {e}") from e

    def _insert(self) -> Any:
        return (sqlite.insert if self._db.is_sqlite else postgresql.insert)(_TABLE)

    async def _take(
        self, kind: str, key: str, value: str, expires_at: datetime | None, *, force: bool
    ) -> bool:
        """Insert the entry; an existing one is replaced when ``force`` or when it expired."""
        now = self._now()
        c = _TABLE.c
        stmt = self._insert().values(
            kind=kind, key=key, value=value, expires_at=expires_at, updated_at=now
        )
        where = None if force else sa.and_(c.expires_at.is_not(None), c.expires_at <= now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.kind, c.key],
            set_={"value": value, "expires_at": expires_at, "updated_at": now},
            where=where,
        ).returning(c.key)

        async def go(conn: Any) -> bool:
            return (await conn.execute(stmt)).first() is not None

        return await self._run(kind, go)

    async def _get(self, kind: str, key: str) -> str | None:
        c = _TABLE.c
        now = self._now()
        stmt = sa.select(c.value).where(
            c.kind == kind,
            c.key == key,
            sa.or_(c.expires_at.is_(None), c.expires_at > now),
        )

        async def go(conn: Any) -> str | None:
            row = (await conn.execute(stmt)).first()
            return None if row is None else str(row[0])

        return await self._run(kind, go)

    async def _delete(self, kind: str, key: str, token: str | None = None) -> bool:
        c = _TABLE.c
        stmt = sa.delete(_TABLE).where(c.kind == kind, c.key == key)
        if token is not None:
            stmt = stmt.where(c.value == token)

        async def go(conn: Any) -> bool:
            return bool((await conn.execute(stmt)).rowcount)

        return await self._run(kind, go)

    def _expiry(self, ttl_seconds: float | None) -> datetime | None:
        return None if ttl_seconds is None else self._now() + timedelta(seconds=ttl_seconds)

    # --- the lock ---------------------------------------------------------------------------

    async def _renew(self, key: str, token: str) -> None:
        c = _TABLE.c
        while True:
            await asyncio.sleep(self._lease / 3)
            stmt = (
                sa.update(_TABLE)
                .where(c.kind == "lock", c.key == key, c.value == token)
                .values(expires_at=self._expiry(self._lease))
            )

            async def go(conn: Any, stmt: Any = stmt) -> None:
                await conn.execute(stmt)

            with suppress(StorageError):  # a missed renewal only shortens the lease
                await self._run("lock renewal", go)

    @asynccontextmanager
    async def _locked(self, key: str, wait: float) -> AsyncIterator[None]:
        token = secrets.token_hex(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait, 0.0)
        delay = 0.005
        # waiters poll with a plain read: a failed upsert would row-lock the lease its holder
        # is about to delete, and the hand-off would crawl
        while (await self._get("lock", key)) is not None or not await self._take(
            "lock", key, token, self._expiry(self._lease), force=False
        ):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockTimeout(f"conversation lock not acquired within {wait:g} s")
            await asyncio.sleep(min(remaining, delay * (0.5 + secrets.randbelow(1000) / 1000)))
            delay = min(delay * 2, 0.05)
        renewal = asyncio.create_task(self._renew(key, token), name=f"lease:{key}")
        try:
            yield
        finally:
            renewal.cancel()
            with suppress(asyncio.CancelledError):
                await renewal
            with suppress(StorageError):  # the lease runs out by itself
                await self._delete("lock", key, token)

    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        return self._locked(key, timeout)

    # --- state, claims, values ------------------------------------------------------------

    async def load(self, key: str) -> dict[str, Any] | None:
        raw = await self._get("state", key)
        return None if raw is None else _decode_state(raw)

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        await self._take("state", key, _encode_state(state), self._expiry(ttl_seconds), force=True)

    async def delete(self, key: str) -> None:
        await self._delete("state", key)

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        _check_ttl(ttl_seconds)
        return await self._take("claim", key, "1", self._expiry(ttl_seconds), force=False)

    async def get_value(self, key: str) -> str | None:
        return await self._get("kv", key)

    async def set_value(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        _check_ttl(ttl_seconds, optional=True)
        await self._take("kv", key, value, self._expiry(ttl_seconds), force=True)

    async def discard(self, kind: str, key: str) -> None:
        """Forget an entry written during an outage (Redis holds the newer one now)."""
        await self._delete(kind, key)

    async def entries(self, kinds: tuple[str, ...], *, limit: int) -> set[tuple[str, str]] | None:
        """The live (kind, key) pairs of ``kinds``; None when there are more than ``limit``."""
        c = _TABLE.c
        now = self._now()
        stmt = (
            sa.select(c.kind, c.key)
            .where(c.kind.in_(kinds), sa.or_(c.expires_at.is_(None), c.expires_at > now))
            .limit(limit + 1)
        )

        async def go(conn: Any) -> list[Any]:
            return list((await conn.execute(stmt)).all())

        rows = await self._run("entries", go)
        return None if len(rows) > limit else {(str(k), str(v)) for k, v in rows}

    async def connect(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        return None


@dataclass
class StoreHealth:
    """How often Redis failed over to the database (exported as metrics)."""

    outages: int = 0
    fallback_calls: int = 0
    down_since: float | None = None
    slow_calls: int = 0  # failed while Redis answered other calls: not an outage


_SHADOW_KINDS = ("state", "kv", "claim")


class ResilientSessionStore:
    """Redis first; the database while Redis is unreachable (module docstring).

    While Redis answers, the database is consulted only for keys that have an entry there
    (written during an outage, by this process or another replica): the set of such keys is
    read in one query at most every ``shadow_refresh_seconds`` (the table is empty in normal
    operation), so a healthy message costs no database round trip here. An entry another
    replica wrote while only *it* could not reach Redis is seen within that interval.

    Args:
        primary: the Redis store.
        fallback: the database store.
        retry_seconds: how long to stay on the database after a Redis failure.
        shadow_refresh_seconds: how often the set of keys written to the database is re-read.
        shadow_limit: above this many such keys every key is looked up in the database.
    """

    def __init__(
        self,
        primary: SessionStore,
        fallback: SqlSessionStore,
        *,
        retry_seconds: float = 2.0,
        shadow_refresh_seconds: float = 1.0,
        shadow_limit: int = 5000,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.shadow_refresh_seconds = shadow_refresh_seconds
        self.shadow_limit = shadow_limit
        self.health = StoreHealth()
        self._retry_at = 0.0
        self._last_answer = -float("inf")  # when Redis last answered a call of this process
        # None: too many (or unknown) database entries; every key is looked up there
        self._shadow: set[tuple[str, str]] | None = None
        self._shadow_read_at = -float("inf")

    async def _shadowed(self, kind: str, key: str) -> bool:
        """Whether the database may hold a newer entry for this key than Redis."""
        now = time.monotonic()
        if now - self._shadow_read_at >= self.shadow_refresh_seconds:
            self._shadow_read_at = now  # concurrent callers use the current set meanwhile
            try:
                self._shadow = await self.fallback.entries(_SHADOW_KINDS, limit=self.shadow_limit)
            except DatabaseSessionError as e:
                # nobody can write there while it is down: the last known set still holds
                log.warning("could not read the database session entries: %s", e)
        return self._shadow is None or (kind, key) in self._shadow

    def _shadow_add(self, kind: str, key: str) -> None:
        if self._shadow is not None:
            self._shadow.add((kind, key))

    def _shadow_drop(self, kind: str, key: str) -> None:
        if self._shadow is not None:
            self._shadow.discard((kind, key))

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._retry_at

    def _answered_since(self, started: float) -> bool:
        return self._last_answer > started

    def _failed(self, what: str, error: Exception) -> None:
        if self.health.down_since is None:
            self.health.outages += 1
            self.health.down_since = time.monotonic()
            log.warning(
                "Redis unreachable (%s: %s); using the database until it is back", what, error
            )
        self._retry_at = time.monotonic() + self.retry_seconds

    def _recovered(self) -> None:
        if self.health.down_since is not None:
            log.warning("Redis is back after %.1f s", time.monotonic() - self.health.down_since)
            self.health.down_since = None

    async def _either(
        self,
        what: str,
        on_primary: Callable[[], Awaitable[_T]],
        on_fallback: Callable[[], Awaitable[_T]],
    ) -> _T:
        if not self.degraded:
            started = time.monotonic()
            try:
                result = await on_primary()
            except (LockTimeout, DatabaseSessionError):
                raise
            except StorageError as e:
                if self._answered_since(started):
                    # Redis answered another call meanwhile: it is up, this process is slow
                    # (a burst waiting for pooled connections, an event loop seconds behind).
                    # This call uses the database; the others stay on Redis.
                    self.health.slow_calls += 1
                    log.info("Redis %s failed while Redis answered others: %s", what, e)
                else:
                    self._failed(what, e)
            else:
                self._last_answer = time.monotonic()
                self._recovered()
                return result
        self.health.fallback_calls += 1
        return await on_fallback()

    # --- the lock ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self, key: str, wait: float) -> AsyncIterator[None]:
        lock: AbstractAsyncContextManager[None]
        if not self.degraded:
            lock = self.primary.lock(key, timeout=wait)
            try:
                await lock.__aenter__()
            except (LockTimeout, DatabaseSessionError):
                raise
            except StorageError as e:
                # never split: a conversation's lock is on Redis or, for everyone, on the database
                self._failed("lock", e)
            else:
                self._last_answer = time.monotonic()
                try:
                    yield
                finally:
                    # a release that fails (Redis died inside the block) must not fail a turn
                    # that has committed: the short lease frees the conversation
                    try:
                        await lock.__aexit__(None, None, None)
                    except StorageError as e:
                        self._failed("unlock", e)
                return
        self.health.fallback_calls += 1
        async with self.fallback.lock(key, timeout=wait):
            yield

    def lock(
        self, key: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        return self._locked(key, timeout)

    # --- state and values: an entry written during an outage wins until Redis is written ----

    async def load(self, key: str) -> dict[str, Any] | None:
        async def primary() -> dict[str, Any] | None:
            newer = await self.fallback.load(key) if await self._shadowed("state", key) else None
            return newer if newer is not None else await self.primary.load(key)

        return await self._either("load", primary, lambda: self.fallback.load(key))

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        async def primary() -> None:
            await self.primary.save(key, state, ttl_seconds=ttl_seconds)
            if await self._shadowed("state", key):
                await self.fallback.discard("state", key)
                self._shadow_drop("state", key)

        async def fallback() -> None:
            await self.fallback.save(key, state, ttl_seconds=ttl_seconds)
            self._shadow_add("state", key)

        await self._either("save", primary, fallback)

    async def delete(self, key: str) -> None:
        async def primary() -> None:
            await self.primary.delete(key)
            if await self._shadowed("state", key):
                await self.fallback.delete(key)
                self._shadow_drop("state", key)

        await self._either("delete", primary, lambda: self.fallback.delete(key))

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        async def primary() -> bool:
            # a claim won on the database during the outage still stands
            if (
                await self._shadowed("claim", key)
                and await self.fallback._get("claim", key) is not None
            ):
                return False
            return await self.primary.claim(key, ttl_seconds=ttl_seconds)

        async def fallback() -> bool:
            won = await self.fallback.claim(key, ttl_seconds=ttl_seconds)
            self._shadow_add("claim", key)
            return won

        return await self._either("claim", primary, fallback)

    async def get_value(self, key: str) -> str | None:
        async def primary() -> str | None:
            newer = await self.fallback.get_value(key) if await self._shadowed("kv", key) else None
            return newer if newer is not None else await self.primary.get_value(key)

        return await self._either("get", primary, lambda: self.fallback.get_value(key))

    async def set_value(self, key: str, value: str, *, ttl_seconds: int | None = None) -> None:
        async def primary() -> None:
            await self.primary.set_value(key, value, ttl_seconds=ttl_seconds)
            if await self._shadowed("kv", key):
                await self.fallback.discard("kv", key)
                self._shadow_drop("kv", key)

        async def fallback() -> None:
            await self.fallback.set_value(key, value, ttl_seconds=ttl_seconds)
            self._shadow_add("kv", key)

        await self._either("set", primary, fallback)

    async def connect(self) -> None:
        """Start even when Redis is down (warned and counted); the database must answer."""
        await self.fallback.connect()
        try:
            await self.primary.connect()
        except StorageError as e:
            self._failed("connect", e)

    async def close(self) -> None:
        with suppress(StorageError):
            await self.primary.close()
        await self.fallback.close()
