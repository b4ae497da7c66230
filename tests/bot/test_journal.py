"""PostgreSQL down: messages are journaled, told they are saved, then stored, processed and
answered once, in order, when it is back (storage/journal.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from redis import asyncio as aioredis

from handlers.i18n import t
from handlers.messages import Inbound
from storage.db import Database
from storage.errors import StorageError, StorageUnavailable
from storage.journal import MemoryInboundJournal, RedisInboundJournal
from storage.repositories import SqlStore
from tests.faults.harness import free_port

URGENT = "3幢电梯里有人被困，快来人"
SAVED = t("journaled", "zh")


class Outage:
    """Switches the app's database off and on, as the service sees it."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        real: Callable[[], AbstractAsyncContextManager[Any]] = store.unit

        def unit() -> AbstractAsyncContextManager[Any]:
            if self.down:
                raise StorageUnavailable("database unreachable: connection refused")
            return real()

        monkeypatch.setattr(store, "unit", unit)


@pytest.fixture
async def app(start_app: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with start_app(reliability={"journal_drain_seconds": 3600}) as running:
        running.container.service.journal = MemoryInboundJournal()
        running.outage = Outage(running.container.store, monkeypatch)
        yield running


async def rows(app: Any, user: str) -> list[Any]:
    async with app.container.store.unit() as uow:
        return sorted(await uow.inbound.recent_for_user("web", user), key=lambda r: r.id)


async def test_a_message_sent_while_the_database_is_down_is_saved_then_answered_once(
    app: Any,
) -> None:
    service = app.container.service
    app.outage.down = True
    msg = Inbound("web", "r-outage", "m-1", text=URGENT)
    assert [r.text for r in await service.handle(msg)] == [SAVED]
    # the platform's retries (at once, 5 s later) fall inside the outage: same answer, kept once
    assert [r.text for r in await service.handle(msg)] == [SAVED]
    assert [r.text for r in await service.handle(msg)] == [SAVED]
    with pytest.raises(StorageUnavailable):  # still down: nothing moved, nothing lost
        await service.drain_journal()
    assert len(await service.journal.pending(10)) == 1

    app.outage.down = False
    assert await service.drain_journal() == 1
    [row] = await rows(app, "r-outage")
    assert row.status == "done" and row.message_id == "m-1"
    async with app.container.store.unit() as uow:
        tickets = list(await uow.finder.requests(limit=10))
    assert len(tickets) == 1 and tickets[0].priority == "urgent"
    pushed = await app.inbox("r-outage", expect=1, wait=3)
    assert pushed and pushed[0]["text"] != SAVED  # the dialogue's own answer, pushed
    assert await service.drain_journal() == 0
    # a late retry after the drain gets the stored answer, and no second ticket
    again = await service.handle(msg)
    assert again[0].text == pushed[0]["text"]
    async with app.container.store.unit() as uow:
        assert len(list(await uow.finder.requests(limit=10))) == 1


async def test_a_residents_next_message_waits_behind_their_journaled_one(app: Any) -> None:
    service = app.container.service
    app.outage.down = True
    await service.handle(Inbound("web", "r-order", "m-1", text="你好"))
    app.outage.down = False
    # the database is back, but the first message is not drained yet: the second queues behind
    assert [
        r.text for r in await service.handle(Inbound("web", "r-order", "m-2", text="使用帮助"))
    ] == [SAVED]
    # another resident is not held up
    other = await service.handle(Inbound("web", "r-other", "m-other", text="你好"))
    assert other[0].text != SAVED
    assert await service.drain_journal() == 2
    assert [(r.message_id, r.status) for r in await rows(app, "r-order")] == [
        ("m-1", "done"),
        ("m-2", "done"),
    ]
    assert len(await app.inbox("r-order", expect=2, wait=3)) >= 2


async def test_a_message_already_stored_by_a_retry_is_not_processed_again_by_the_drain(
    app: Any,
) -> None:
    service = app.container.service
    msg = Inbound("web", "r-both", "m-1", text=URGENT)
    app.outage.down = True
    await service.handle(msg)
    app.outage.down = False
    # as if a retry reached a process that stored and processed it before the drain ran
    receipt = await service.receive(msg, journal=False)
    assert receipt.new
    await service.process(receipt.inbound_id, msg)
    assert await service.drain_journal() == 1
    assert len(await rows(app, "r-both")) == 1
    async with app.container.store.unit() as uow:
        assert len(list(await uow.finder.requests(limit=10))) == 1
    assert await app.inbox("r-both", expect=1, wait=1) == []  # answered directly, not pushed


async def test_with_the_journal_down_too_the_message_is_refused_for_the_platform_to_retry(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = app.container.service

    async def redis_gone(*args: Any, **kwargs: Any) -> bool:
        raise StorageError("inbound journal append failed: Connection refused")

    monkeypatch.setattr(service.journal, "append", redis_gone)
    app.outage.down = True
    with pytest.raises(StorageUnavailable):
        await service.handle(Inbound("web", "r-both-down", "m-1", text="你好"))


async def test_a_database_that_refuses_connections_is_unavailable_not_just_an_error() -> None:
    database = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        with pytest.raises(StorageUnavailable):
            async with SqlStore(database).unit() as uow:
                await uow.inbound.get(1)
    finally:
        await database.dispose()


async def test_a_web_message_is_answered_in_time_however_slow_its_turn(
    start_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_app(reliability={"web_answer_seconds": 0.3}) as app:
        interpreter = app.container.service.interpreter
        parse = interpreter.parse

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(1.0)  # an overloaded machine
            return await parse(*args, **kwargs)

        monkeypatch.setattr(interpreter, "parse", slow)
        started = asyncio.get_running_loop().time()
        replies = await app.say("r-slow", "使用帮助", message_id="m-slow")
        assert asyncio.get_running_loop().time() - started < 0.9
        assert [r["text"] for r in replies] == [t("holding", "zh")]
        [row] = await rows(app, "r-slow")  # stored before it was answered
        pushed = await app.inbox("r-slow", expect=1, wait=5)
        assert pushed and "使用" in pushed[0]["text"]  # the turn's own answer, pushed once
        assert len(await app.inbox("r-slow", expect=1, wait=0.5)) == 0
        [row] = await rows(app, "r-slow")
        assert row.status == "done"


async def test_a_journaled_message_that_cannot_be_stored_is_set_aside_not_blocking_the_rest(
    app: Any,
) -> None:
    """One bad entry (here: written by a version with another media shape) used to stop every
    drain at it, so nobody journaled after it was ever answered."""
    service = app.container.service
    journal = service.journal
    app.outage.down = True
    await journal.append(
        "web",
        "m-odd",
        "r-odd",
        {
            "channel": "web",
            "user_id": "r-odd",
            "message_id": "m-odd",
            "text": "3幢路灯坏了",
            "media": [{"kind": "hologram", "ref": 1}],
        },
        received_at=service.clock.now(),
    )
    # the same resident's next message queues behind their odd one; another resident's too
    assert [r.text for r in await service.handle(Inbound("web", "r-odd", "m-2", "使用帮助"))] == [
        SAVED
    ]
    assert [r.text for r in await service.handle(Inbound("web", "r-ok", "m-1", "使用帮助"))] == [
        SAVED
    ]
    app.outage.down = False

    assert await service.drain_journal() == 1  # the other resident is not held up
    assert [(r.message_id, r.status) for r in await rows(app, "r-ok")] == [("m-1", "done")]
    assert await rows(app, "r-odd") == []  # theirs keep their order: m-2 waits behind m-odd
    assert await service.drain_journal() == 0  # second try of the odd one
    assert await journal.buried() == []
    assert await service.drain_journal() == 2  # third try: set aside, then m-2 goes
    assert [(r.message_id, r.status) for r in await rows(app, "r-odd")] == [("m-2", "done")]
    assert await journal.pending(10) == []
    [buried] = await journal.buried()
    assert "ValueError" in buried.reason and "3幢路灯坏了" in buried.raw  # kept, not dropped
    assert await app.inbox("r-odd", expect=1, wait=3)  # m-2's answer was pushed


@pytest.mark.services
async def test_an_unreadable_redis_journal_entry_is_set_aside_and_listed_masked(
    redis_url: str, redis_prefix: str, tmp_path: Any
) -> None:
    journal = RedisInboundJournal(redis_url, prefix=redis_prefix)
    try:
        now = datetime.now(UTC)
        await journal.append("web", "m-1", "r-1", {"text": "a"}, received_at=now)
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            await client.xadd(f"{redis_prefix}journal", {"entry": "{not json"})
        finally:
            await client.aclose()
        await journal.append("web", "m-3", "r-3", {"text": "b"}, received_at=now)
        assert [e.message_id for e in await journal.pending(10)] == ["m-1", "m-3"]
        [unreadable] = await journal.buried()
        assert unreadable.reason.startswith("unreadable") and unreadable.raw == "{not json"
        # an entry set aside by the drain: its sender no longer waits behind it
        first = (await journal.pending(1))[0]
        text = "我电话13812345678，3幢路灯坏了"
        first = replace(first, payload={"text": text})
        await journal.bury(first, "ValueError after 3 tries")
        assert not await journal.holds("web", "r-1")
        assert [e.message_id for e in await journal.pending(10)] == ["m-3"]
        assert [b.entry_id for b in await journal.buried()] == [
            first.entry_id,
            unreadable.entry_id,
        ]
    finally:
        await journal.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MINHU_")}
    env.update(
        MINHU_DATA_DIR=str(tmp_path),
        MINHU_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        MINHU_REDIS_URL=redis_url,
        MINHU_REDIS_PREFIX=redis_prefix,
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "journal", "buried"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert first.entry_id in lines[0] and "ValueError after 3 tries" in lines[0]
    assert "3幢路灯坏了" in lines[0] and "13812345678" not in lines[0]  # the phone is masked
    assert unreadable.entry_id in lines[1] and "unreadable" in lines[1]
