"""One contract for every SessionStore: the in-process store and Redis must behave alike.

Each contract test runs against MemorySessionStore (fake clock, always) and RedisSessionStore
(the real server from MINHU_REDIS_URL, under a per-test key prefix). Behaviour is asserted
through the public API only: what `load` returns after `save`, never which calls were made.
Implementation-specific tests (lock leases, prefixes, unreachable servers) follow the contract.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from storage.errors import LockTimeout, StorageError
from storage.models import SessionEntry
from storage.session_sql import ResilientSessionStore, SqlSessionStore
from storage.state import MemorySessionStore, RedisSessionStore, SessionStore, make_session_store

# ---------------------------------------------------------------------------------------------
# Harness


class FakeClock:
    """Monotonic clock the memory store reads; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    kind: str
    store: SessionStore
    # Another handle on the same data -- "another process". Memory is per process, so its
    # peer is the store itself; Redis gets a new client with the same URL and prefix.
    peer: Callable[..., SessionStore]
    clock: FakeClock | None = None
    stores: list[SessionStore] = field(default_factory=list)

    async def elapse(self, seconds: float) -> None:
        """Let time pass: move the fake clock, or really wait for Redis."""
        if self.clock is not None:
            self.clock.now += seconds
        else:
            await asyncio.sleep(seconds)

    async def eventually(self, condition: Callable[[], Awaitable[bool]]) -> bool:
        """Whether `condition` holds -- at once in memory; Redis expiry gets a short grace."""
        if self.clock is not None:
            return await condition()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if await condition():
                return True
            await asyncio.sleep(0.05)
        return False


async def _database(url: str) -> Database:
    database = Database(url)
    async with database.engine.begin() as conn:  # the one table; migrations are tested apart
        await conn.run_sync(SessionEntry.__table__.create)  # type: ignore[attr-defined]
    return database


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.services),
        "sql",
        pytest.param("sql-postgres", marks=pytest.mark.services),
        "redis-down",
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = FakeClock()
        memory = MemorySessionStore(clock=clock)
        yield Backend("memory", memory, peer=lambda **_: memory, clock=clock)
        return
    if request.param in ("sql", "sql-postgres", "redis-down"):
        url = (
            request.getfixturevalue("fresh_postgres_url")()
            if request.param == "sql-postgres"
            else f"sqlite:///{tmp_path / 'state.db'}"
        )
        database = await _database(url)
        built: list[SessionStore] = []

        def make_sql(**kwargs: Any) -> SessionStore:
            sql = SqlSessionStore(database, **kwargs)
            if request.param != "redis-down":
                built.append(sql)
                return sql
            # Redis on a port nobody listens on: every call fails over to the database
            dead = RedisSessionStore("redis://127.0.0.1:1/0", prefix="t:", **kwargs)
            resilient = ResilientSessionStore(dead, sql)
            built.append(resilient)
            return resilient

        store = make_sql()
        await store.connect()
        yield Backend(request.param, store, peer=make_sql, stores=built)
        for s in built:
            await s.close()
        await database.dispose()
        return

    # Requested dynamically, hence the explicit `services` mark on this parameter.
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    stores: list[SessionStore] = []

    def make(**kwargs: Any) -> SessionStore:
        store = RedisSessionStore(url, prefix=prefix, **kwargs)
        stores.append(store)
        return store

    store = make()
    await store.connect()
    yield Backend("redis", store, peer=make, stores=stores)
    for s in stores:
        await s.close()


STATE: dict[str, Any] = {
    "flow": "report_elevator",
    "slots": {"description": "3号楼电梯困人，已经十分钟了", "building": "3幢", "floor": 12},
    "history": [{"role": "user", "text": "电梯坏了😭"}, {"role": "bot", "text": "请问是哪一幢？"}],
    "confidence": 0.87,
    "confirmed": False,
    "ticket_id": None,
}


async def bump(store: SessionStore, key: str) -> None:
    """Read-modify-write of a counter under the lock; yields between load and save."""
    async with store.lock(key):
        state = await store.load(key) or {"n": 0}
        await asyncio.sleep(0)  # without the lock, every other task would read the same n
        state["n"] += 1
        await store.save(key, state, ttl_seconds=60)


# ---------------------------------------------------------------------------------------------
# State


async def test_load_returns_the_saved_state_when_it_is_nested_chinese_json(
    backend: Backend,
) -> None:
    await backend.store.save("wechat:u1", STATE, ttl_seconds=60)

    assert await backend.store.load("wechat:u1") == STATE
    assert await backend.peer().load("wechat:u1") == STATE


async def test_load_returns_none_when_the_key_was_never_saved(backend: Backend) -> None:
    assert await backend.store.load("nobody") is None


async def test_save_replaces_the_previous_state(backend: Backend) -> None:
    await backend.store.save("k", {"step": 1, "old": True}, ttl_seconds=60)
    await backend.store.save("k", {"step": 2}, ttl_seconds=60)

    assert await backend.store.load("k") == {"step": 2}


async def test_load_returns_an_independent_json_copy_when_caller_mutates_either_side(
    backend: Backend,
) -> None:
    original: dict[str, Any] = {"slots": {"building": "5幢"}, "pair": (1, 2)}
    await backend.store.save("k", original, ttl_seconds=60)
    original["slots"]["building"] = "changed after save"

    loaded = await backend.store.load("k")
    assert loaded == {"slots": {"building": "5幢"}, "pair": [1, 2]}  # JSON: tuples become lists
    assert loaded is not None
    loaded["slots"]["building"] = "changed after load"
    assert await backend.store.load("k") == {"slots": {"building": "5幢"}, "pair": [1, 2]}


async def test_save_raises_storage_error_when_the_state_is_not_json(backend: Backend) -> None:
    with pytest.raises(StorageError):
        await backend.store.save("k", {"when": object()}, ttl_seconds=60)
    with pytest.raises(StorageError):
        await backend.store.save("k", {"score": float("nan")}, ttl_seconds=60)
    assert await backend.store.load("k") is None


@pytest.mark.parametrize("ttl", [0, -5])
async def test_ttl_is_refused_when_it_is_not_positive(backend: Backend, ttl: int) -> None:
    with pytest.raises(ValueError):
        await backend.store.save("k", {}, ttl_seconds=ttl)
    with pytest.raises(ValueError):
        await backend.store.claim("k", ttl_seconds=ttl)
    with pytest.raises(ValueError):
        await backend.store.set_value("k", "v", ttl_seconds=ttl)


async def test_load_returns_none_when_the_ttl_has_passed(backend: Backend) -> None:
    store = backend.store
    await store.save("k", {"step": 1}, ttl_seconds=1)
    await backend.elapse(0.5)
    assert await store.load("k") == {"step": 1}

    await backend.elapse(0.5)
    assert await backend.eventually(lambda: _is_none(store.load("k")))


async def test_save_restarts_the_ttl_when_the_state_is_saved_again(backend: Backend) -> None:
    store = backend.store
    # margins of 0.8 s either way: a save on a loaded machine's database takes a while
    await store.save("k", {"step": 1}, ttl_seconds=2)
    await backend.elapse(1.2)
    await store.save("k", {"step": 2}, ttl_seconds=2)
    await backend.elapse(1.2)  # 2.4 s after the first save, 1.2 s after the second

    assert await store.load("k") == {"step": 2}


async def test_delete_forgets_the_state_and_ignores_absent_keys(backend: Backend) -> None:
    await backend.store.save("k", STATE, ttl_seconds=60)
    await backend.store.delete("k")
    await backend.store.delete("never-saved")

    assert await backend.store.load("k") is None
    assert await backend.peer().load("k") is None


async def test_kinds_are_separate_when_they_share_a_key(backend: Backend) -> None:
    store = backend.store
    await store.save("k", {"a": 1}, ttl_seconds=60)
    await store.set_value("k", "token")
    assert await store.claim("k", ttl_seconds=60) is True

    await store.delete("k")

    assert await store.load("k") is None
    assert await store.get_value("k") == "token"
    assert await store.claim("k", ttl_seconds=60) is False


# ---------------------------------------------------------------------------------------------
# Claims (dedupe)


async def test_claim_is_true_once_then_false_when_claimed_again(backend: Backend) -> None:
    assert await backend.store.claim("wechat:msg:1", ttl_seconds=60) is True
    assert await backend.store.claim("wechat:msg:1", ttl_seconds=60) is False
    assert await backend.peer().claim("wechat:msg:1", ttl_seconds=60) is False
    assert await backend.store.claim("wechat:msg:2", ttl_seconds=60) is True


async def test_claim_is_won_exactly_once_when_many_handlers_race(backend: Backend) -> None:
    handles = [backend.store, backend.peer(), backend.peer()]
    results = await asyncio.gather(
        *(handles[i % 3].claim("telegram:update:42", ttl_seconds=60) for i in range(30))
    )
    assert results.count(True) == 1


async def test_claim_is_true_again_when_the_ttl_has_passed(backend: Backend) -> None:
    store = backend.store
    assert await store.claim("m", ttl_seconds=1) is True
    assert await store.claim("m", ttl_seconds=1) is False

    await backend.elapse(1.0)

    assert await backend.eventually(lambda: store.claim("m", ttl_seconds=60))
    assert await store.claim("m", ttl_seconds=60) is False


# ---------------------------------------------------------------------------------------------
# Small shared values


async def test_get_value_returns_none_when_the_value_was_never_set(backend: Backend) -> None:
    assert await backend.store.get_value("wechat:access_token") is None


async def test_get_value_returns_the_latest_value_when_set_without_ttl(backend: Backend) -> None:
    await backend.store.set_value("wechat:access_token", "tok-1")
    await backend.store.set_value("wechat:access_token", "令牌-2")

    assert await backend.store.get_value("wechat:access_token") == "令牌-2"
    assert await backend.peer().get_value("wechat:access_token") == "令牌-2"


async def test_value_expires_only_when_its_latest_write_had_a_ttl(backend: Backend) -> None:
    store = backend.store
    await store.set_value("short", "a", ttl_seconds=1)
    await store.set_value("long", "b", ttl_seconds=1)
    await store.set_value("long", "c")  # overwriting without a TTL keeps it indefinitely

    await backend.elapse(1.0)

    assert await backend.eventually(lambda: _is_none(store.get_value("short")))
    assert await store.get_value("long") == "c"


# ---------------------------------------------------------------------------------------------
# Conversation lock


async def test_lock_loses_no_updates_when_50_tasks_increment_concurrently(
    backend: Backend,
) -> None:
    handles = [backend.store, backend.peer()]  # Redis: two clients, like two processes
    # the database lease hands over by polling (~0.1-0.2 s a turn on a busy machine): fewer
    # racers keep it inside the 10 s lock wait; the race is the same
    n = 50 if backend.kind in ("memory", "redis") else 20

    await asyncio.gather(*(bump(handles[i % 2], "counter") for i in range(n)))

    assert await backend.store.load("counter") == {"n": n}


async def test_lock_raises_lock_timeout_when_held_elsewhere(backend: Backend) -> None:
    async with backend.store.lock("k"):
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            async with backend.peer().lock("k", timeout=0.2):
                pytest.fail("entered a lock that is held")
        assert 0.15 <= time.monotonic() - started < 2.0


async def test_lock_is_taken_at_once_when_free_even_with_zero_timeout(backend: Backend) -> None:
    started = time.monotonic()
    async with backend.store.lock("k", timeout=0):
        # held: a second taker with no patience is refused at once
        with pytest.raises(LockTimeout):
            async with backend.peer().lock("k", timeout=0):
                pytest.fail("entered a lock that is held")
    async with backend.peer().lock("k", timeout=0):
        await backend.peer().save("k", {"taken": True}, ttl_seconds=60)
    assert await backend.store.load("k") == {"taken": True}
    assert time.monotonic() - started < 1.0


async def test_lock_does_not_block_when_the_keys_differ(backend: Backend) -> None:
    started = time.monotonic()
    async with backend.store.lock("a"), backend.peer().lock("b", timeout=0.2):
        elapsed = time.monotonic() - started
    assert elapsed < 0.2  # the second lock was free, not waited for


async def test_lock_is_released_when_the_block_raises(backend: Backend) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        async with backend.store.lock("k"):
            raise RuntimeError("handler failed")

    async with backend.peer().lock("k", timeout=0.5):
        pass


async def test_lock_is_released_when_the_holder_is_cancelled(backend: Backend) -> None:
    entered = asyncio.Event()

    async def hold() -> None:
        async with backend.store.lock("k"):
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task

    assert task.cancelled()
    started = time.monotonic()
    async with backend.peer().lock("k", timeout=0.5):
        elapsed = time.monotonic() - started
    assert elapsed < 0.5  # released by the cancellation, not by a lease running out


async def test_lock_waiter_stops_at_once_when_cancelled_and_leaves_the_lock_free(
    backend: Backend,
) -> None:
    # Cancel at random moments of the waiter's polling. Regression: with socket_timeout set,
    # redis-py's asyncio.wait_for swallowed some cancellations on Python 3.11.
    peer = backend.peer()
    async with backend.store.lock("k"):
        for _ in range(30):
            waiter = asyncio.create_task(_enter(peer, "k"))
            await asyncio.sleep(random.random() * 0.01)
            waiter.cancel()
            done, _ = await asyncio.wait({waiter}, timeout=2)
            assert waiter in done, "cancellation was swallowed: the waiter is still polling"
            assert waiter.cancelled()

    async with peer.lock("k", timeout=0.5):
        pass


async def test_lock_waiter_gets_the_lock_when_the_holder_releases(backend: Backend) -> None:
    order: list[str] = []

    async def waiter() -> None:
        async with backend.peer().lock("k", timeout=5):
            order.append("waiter")

    async with backend.store.lock("k"):
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        order.append("holder")
    await asyncio.wait_for(task, 5)

    assert order == ["holder", "waiter"]


# ---------------------------------------------------------------------------------------------
# Memory-specific


async def test_memory_forgets_idle_locks_when_blocks_end_however_they_end() -> None:
    store = MemorySessionStore()
    for i in range(100):
        async with store.lock(f"conversation-{i}"):
            pass
    with pytest.raises(ValueError):
        async with store.lock("raises"):
            raise ValueError
    async with store.lock("held"):
        with pytest.raises(LockTimeout):
            async with store.lock("held", timeout=0.01):
                pass
        waiter = asyncio.create_task(_enter(store, "held"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with suppress(asyncio.CancelledError):
            await waiter

    assert store._locks == {}  # nothing left behind to grow without bound


async def _enter(store: SessionStore, key: str) -> None:
    async with store.lock(key):
        pass


async def _is_none(value: Awaitable[object]) -> bool:
    return await value is None


# ---------------------------------------------------------------------------------------------
# Redis-specific


@pytest.mark.services
async def test_redis_lock_becomes_free_when_the_holder_crashed_and_its_lease_ran_out(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = RedisSessionStore(redis_url, prefix=redis_prefix, lock_lease_seconds=0.3)
    store = RedisSessionStore(redis_url, prefix=redis_prefix)
    third = RedisSessionStore(redis_url, prefix=redis_prefix)
    try:
        held = crashed.lock("k")
        await held.__aenter__()  # ...and the process "dies" without leaving the block
        for task in asyncio.all_tasks():  # a frozen process renews nothing
            if task.get_name() == "lease:k":
                task.cancel()

        with pytest.raises(LockTimeout):
            async with store.lock("k", timeout=0.05):
                pass
        started = time.monotonic()
        async with store.lock("k", timeout=5):
            assert time.monotonic() - started < 2.0
            # The zombie wakes up and releases late: it must not free a lock it no longer owns.
            with caplog.at_level(logging.WARNING, logger="storage.state"):
                await held.__aexit__(None, None, None)
            assert "expired before release" in caplog.text
            with pytest.raises(LockTimeout):
                async with third.lock("k", timeout=0.1):
                    pass
    finally:
        for s in (crashed, store, third):
            await s.close()


@pytest.mark.services
async def test_redis_prefixes_isolate_stores_when_keys_are_equal(
    redis_url: str, redis_prefix: str
) -> None:
    a = RedisSessionStore(redis_url, prefix=f"{redis_prefix}a:")
    b = RedisSessionStore(redis_url, prefix=f"{redis_prefix}b:")
    try:
        await a.save("k", {"who": "a"}, ttl_seconds=60)
        await a.set_value("token", "a-token")
        assert await a.claim("m", ttl_seconds=60) is True

        assert await b.load("k") is None
        assert await b.get_value("token") is None
        assert await b.claim("m", ttl_seconds=60) is True
        async with a.lock("k"), b.lock("k", timeout=0.2):
            pass
        assert await a.load("k") == {"who": "a"}
    finally:
        await a.close()
        await b.close()


@pytest.mark.services
async def test_redis_load_raises_storage_error_when_the_stored_state_is_corrupt(
    redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    raw = aioredis.from_url(redis_url, decode_responses=True)
    store = RedisSessionStore(redis_url, prefix=redis_prefix)
    try:
        await raw.set(f"{redis_prefix}state:broken", "{not json")
        await raw.set(f"{redis_prefix}state:list", "[1, 2]")
        with pytest.raises(StorageError):
            await store.load("broken")
        with pytest.raises(StorageError):
            await store.load("list")
    finally:
        await raw.aclose()
        await store.close()


# Nothing listens on port 1, so these need no service: the refusal is immediate.
UNREACHABLE = "redis://:s3cret-password@127.0.0.1:1/0"


async def test_redis_raises_storage_error_when_the_server_is_unreachable() -> None:
    store = RedisSessionStore(UNREACHABLE)
    try:
        with pytest.raises(StorageError, match="unreachable") as connect_error:
            await store.connect()
        assert "s3cret-password" not in str(connect_error.value)
        with pytest.raises(StorageError) as load_error:
            await store.load("k")
        assert "s3cret-password" not in str(load_error.value)
        with pytest.raises(StorageError):
            async with store.lock("k", timeout=0.1):
                pass
    finally:
        await store.close()


async def test_make_session_store_never_falls_back_to_memory_when_a_url_is_given() -> None:
    store = make_session_store(UNREACHABLE, "minhu:")
    try:
        assert isinstance(store, RedisSessionStore)
        with pytest.raises(StorageError):
            await store.connect()
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["", "http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_make_session_store_raises_storage_error_when_the_url_is_not_redis(url: str) -> None:
    with pytest.raises(StorageError):
        make_session_store(url, "minhu:")


async def test_make_session_store_returns_memory_when_no_url_is_configured() -> None:
    store = make_session_store(None, "minhu:")
    await store.connect()

    assert isinstance(store, MemorySessionStore)
    await store.save("k", {"a": 1}, ttl_seconds=60)
    assert await store.load("k") == {"a": 1}
    await store.close()


@pytest.mark.services
async def test_a_burst_of_calls_waits_for_redis_connections_instead_of_failing(
    redis_url: str, redis_prefix: str
) -> None:
    """600 messages arriving at once each claim their MsgId: more calls in flight than the
    pool has connections must queue for one, not fail ("Too many connections"), which the
    resilient store took for an outage and answered from the database, far slower."""
    store = RedisSessionStore(redis_url, prefix=redis_prefix)
    try:
        held = [store.lock(f"conv:{n}") for n in range(80)]
        for lock in held:  # locks pin no connection: their lease renewal is a task
            await lock.__aenter__()
        won = await asyncio.gather(
            *(store.claim(f"msg:{n}", ttl_seconds=60) for n in range(600)),
            *(store.set_value(f"seen:{n}", "1", ttl_seconds=60) for n in range(300)),
        )
        assert won[:600] == [True] * 600
        assert await store.get_value("seen:299") == "1"
        for lock in held:
            await lock.__aexit__(None, None, None)
    finally:
        await store.close()
