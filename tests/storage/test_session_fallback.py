"""ResilientSessionStore: Redis first, the database while Redis is down, no state jumps back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from storage.errors import StorageError
from storage.models import SessionEntry
from storage.session_sql import ResilientSessionStore, SqlSessionStore
from storage.state import MemorySessionStore


class Flaky(MemorySessionStore):
    """An in-process "Redis" that can be switched off like a killed server."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.die_inside_lock = False

    def _check(self) -> None:
        if self.down:
            raise StorageError("Redis GET failed: Connection refused")

    async def load(self, key: str) -> dict[str, Any] | None:
        self._check()
        return await super().load(key)

    async def save(self, key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
        self._check()
        await super().save(key, state, ttl_seconds=ttl_seconds)

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        self._check()
        return await super().claim(key, ttl_seconds=ttl_seconds)

    @asynccontextmanager
    async def _dying(self, key: str, wait: float) -> AsyncIterator[None]:
        self._check()
        yield
        if self.die_inside_lock:
            raise StorageError("Redis unlock failed: Connection reset")

    def lock(self, key: str, *, timeout: float = 10.0) -> AbstractAsyncContextManager[None]:
        return self._dying(key, timeout)


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Flaky, ResilientSessionStore]]:
    database = Database(f"sqlite:///{tmp_path / 's.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(SessionEntry.__table__.create)  # type: ignore[attr-defined]
    redis = Flaky()
    store = ResilientSessionStore(redis, SqlSessionStore(database), retry_seconds=0.0)
    yield redis, store
    await database.dispose()


async def test_state_written_during_an_outage_wins_when_redis_comes_back(
    stores: tuple[Flaky, ResilientSessionStore],
) -> None:
    redis, store = stores
    await store.save("conv", {"step": "before"}, ttl_seconds=60)
    redis.down = True
    await store.save("conv", {"step": "during"}, ttl_seconds=60)
    assert await store.load("conv") == {"step": "during"}

    redis.down = False
    assert await store.load("conv") == {"step": "during"}  # not Redis's older copy
    await store.save("conv", {"step": "after"}, ttl_seconds=60)
    assert await store.load("conv") == {"step": "after"}
    assert store.health.outages == 1


async def test_a_claim_won_during_the_outage_still_stands_when_redis_comes_back(
    stores: tuple[Flaky, ResilientSessionStore],
) -> None:
    redis, store = stores
    redis.down = True
    assert await store.claim("wechat:msg:1", ttl_seconds=60)
    redis.down = False
    assert not await store.claim("wechat:msg:1", ttl_seconds=60)


async def test_a_lock_whose_release_fails_does_not_fail_the_committed_turn(
    stores: tuple[Flaky, ResilientSessionStore],
) -> None:
    redis, store = stores
    redis.die_inside_lock = True
    async with store.lock("conv"):
        pass  # no exception: the short lease frees the conversation
    redis.die_inside_lock = False
    redis.down = True
    async with store.lock("conv", timeout=1):  # the database lease while Redis is down
        await store.save("conv", {"n": 1}, ttl_seconds=60)
    assert await store.load("conv") == {"n": 1}


async def test_another_replicas_outage_entries_win_once_the_key_set_is_reread(
    tmp_path: Path,
) -> None:
    """Replica B could not reach Redis and wrote to the database; replica A sees it."""
    database = Database(f"sqlite:///{tmp_path / 's.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(SessionEntry.__table__.create)  # type: ignore[attr-defined]
    redis = Flaky()
    a = ResilientSessionStore(redis, SqlSessionStore(database), shadow_refresh_seconds=0.0)
    b_redis = Flaky()
    b = ResilientSessionStore(b_redis, SqlSessionStore(database), retry_seconds=60.0)
    await a.save("conv", {"step": "before"}, ttl_seconds=60)
    b_redis.down = True
    await b.save("conv", {"step": "during"}, ttl_seconds=60)
    assert await a.load("conv") == {"step": "during"}
    await a.save("conv", {"step": "after"}, ttl_seconds=60)
    assert await a.load("conv") == {"step": "after"}
    await database.dispose()


async def test_a_healthy_store_reads_the_database_at_most_once_per_refresh(
    stores: tuple[Flaky, ResilientSessionStore],
) -> None:
    """With Redis up and no outage entries, a turn costs no database round trip here."""
    _, store = stores
    store.shadow_refresh_seconds = 3600.0
    calls: list[str] = []
    real_run = store.fallback._run

    async def counting(what: str, fn: Any) -> Any:
        calls.append(what)
        return await real_run(what, fn)

    store.fallback._run = counting  # type: ignore[method-assign]
    for n in range(20):
        assert await store.claim(f"msg:{n}", ttl_seconds=60)
        await store.save("conv", {"n": n}, ttl_seconds=60)
        assert await store.load("conv") == {"n": n}
        await store.set_value("k", str(n))
        assert await store.get_value("k") == str(n)
    assert calls == ["entries"]


class Slow(Flaky):
    """Redis up, this process slow: one call waits and then times out while others finish."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.slow_key: str | None = "slow"

    async def claim(self, key: str, *, ttl_seconds: int) -> bool:
        if key == self.slow_key:
            self.slow_key = None  # once
            await self.release.wait()
            raise StorageError("Redis SET NX timed out after 5 s")
        return await super().claim(key, ttl_seconds=ttl_seconds)


async def test_one_slow_call_while_redis_answers_others_is_not_an_outage(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 's.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(SessionEntry.__table__.create)  # type: ignore[attr-defined]
    redis = Slow()
    store = ResilientSessionStore(redis, SqlSessionStore(database), retry_seconds=60.0)
    try:
        slow = asyncio.create_task(store.claim("slow", ttl_seconds=60))
        await asyncio.sleep(0)
        assert await store.claim("fast", ttl_seconds=60) is True  # Redis answers meanwhile
        redis.release.set()
        assert await slow is True  # this one call was claimed on the database
        assert store.health.outages == 0 and store.health.slow_calls == 1
        assert not store.degraded  # everything else stays on Redis
        assert await store.claim("fast", ttl_seconds=60) is False
        assert await store.claim("slow", ttl_seconds=60) is False  # the database claim stands
        assert store.health.outages == 0
        # Redis really down: nothing answers after the call started, so it is an outage
        redis.down = True
        assert await store.claim("during", ttl_seconds=60) is True
        assert store.health.outages == 1 and store.degraded
    finally:
        await database.dispose()
