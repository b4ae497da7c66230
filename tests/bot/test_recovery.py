"""Effects exactly once: stored first, one ticket per message, each answer pushed once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from handlers.messages import Inbound, Outbound
from storage.errors import StorageError

URGENT = "3幢电梯里有人被困，快来人"


async def _tickets(app: Any) -> list[Any]:
    async with app.container.store.unit() as uow:
        return list(await uow.finder.requests(limit=100))


async def test_a_turn_that_filed_its_ticket_is_not_run_again_when_the_state_save_fails(
    start_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_app(reliability={"recovery_backoff_seconds": 0}) as app:
        sessions = app.container.sessions

        async def redis_gone(key: str, state: Mapping[str, Any], *, ttl_seconds: int) -> None:
            raise StorageError("Redis SET failed: Connection refused")

        monkeypatch.setattr(sessions, "save", redis_gone)
        replies = await app.say("r-lift", URGENT)
        assert not replies[0]["text"].startswith("抱歉")  # answered, not an apology
        tickets = await _tickets(app)
        assert len(tickets) == 1 and tickets[0].priority == "urgent"
        async with app.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("web", "r-lift")
        assert row.status == "done"

        assert await app.container.service.recover() == 0
        assert len(await _tickets(app)) == 1


async def test_a_message_processed_twice_files_one_ticket(start_app: Any) -> None:
    async with start_app() as app:
        service = app.container.service
        msg = Inbound("web", "r-twice", "m-1", text=URGENT)
        receipt = await service.receive(msg)
        await service.process(receipt.inbound_id, msg)
        # as if a second process ran the same stored message again (a lease lost, a bug)
        again = await service.process(receipt.inbound_id, msg)
        assert len(await _tickets(app)) == 1
        assert again[0].text.startswith("抱歉") or again


async def test_a_message_whose_owner_died_is_answered_once_by_the_recovery_loop(
    start_app: Any,
) -> None:
    async with start_app(reliability={"recovery_stuck_seconds": 0}) as app:
        service = app.container.service
        # stored, then the process died before processing it
        await service.receive(Inbound("web", "r-orphan", "m-orphan", text="使用帮助"))

        await service.recover()  # this process, or its background loop got there first
        assert await service.recover() == 0  # done: nobody runs it again
        pushed = await app.inbox("r-orphan", expect=2, wait=1.5)
        assert len(pushed) == 1 and "使用" in pushed[0]["text"]
        async with app.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("web", "r-orphan")
        assert row.status == "done" and row.attempts == 1


async def test_replies_are_queued_once_whoever_pushes_them(start_app: Any) -> None:
    async with start_app() as app:
        service = app.container.service
        msg = Inbound("web", "r-push", "m-push", text="x")
        receipt = await service.receive(msg)
        replies = [Outbound(text="一"), Outbound(text="二")]
        for _ in range(3):  # the owner, a late retry and a recoverer
            async with app.container.store.unit() as uow:
                await service.push_replies(uow, receipt.inbound_id, msg, replies)
        pushed = await app.inbox("r-push", expect=3, wait=1.5)
        assert [p["text"] for p in pushed] == ["一", "二"]
