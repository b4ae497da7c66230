"""Delivery to Telegram through the outbox: limits, 429, 403, fall-back, no duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from bot.channels.telegram import make_bot
from bot.config import TelegramSettings
from bot.notify.ratelimit import SendRateLimiter
from bot.notify.telegram import EDIT_ID, CallbackCodec, TelegramNotifier
from bot.outbox import OutboxDispatcher
from handlers.messages import Button, Outbound
from handlers.ports import Recipient
from handlers.service import outbound_to_dict
from storage.models import Community, Grid, GridWorker
from storage.state import MemorySessionStore
from tests.bot.telegram.conftest import TOKEN
from tests.bot.telegram.fake_api import FakeTelegram
from tests.factories import FakeClock

CHAT = 5987654321


@dataclass
class Rig:
    store: Any
    clock: FakeClock
    fake: FakeTelegram
    notifier: TelegramNotifier
    dispatcher: OutboxDispatcher
    mailbox: Any


class Mailbox:
    """The web channel's transport, reduced to what these tests look at."""

    channel = "web"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> Any:
        from handlers.ports import DeliveryResult

        self.delivered.append((recipient.user_id, message.text))
        return DeliveryResult(ok=True)


@pytest.fixture
async def rig(sql_store: Any, fake_telegram: FakeTelegram) -> AsyncIterator[Rig]:
    clock = FakeClock()
    sessions = MemorySessionStore()
    bot = make_bot(TelegramSettings(token=SecretStr(TOKEN), api_base=fake_telegram.base_url))
    notifier = TelegramNotifier(
        bot,
        store=sql_store,
        sessions=sessions,
        clock=clock,
        limiter=SendRateLimiter(sessions, namespace="tg:", per_second=30, recipient_interval=0),
        codec=CallbackCodec(sessions),
    )
    mailbox = Mailbox()
    dispatcher = OutboxDispatcher(sql_store, {"telegram": notifier, "web": mailbox}, clock)
    try:
        yield Rig(sql_store, clock, fake_telegram, notifier, dispatcher, mailbox)
    finally:
        await bot.session.close()


async def queue(rig: Rig, text: str, *, worker_id: int | None = None, **data: str) -> int:
    message = Outbound(text=text, buttons=(Button("接单", "accept:MH-20261122-0001"),), data=data)
    async with rig.store.unit() as uow:
        item = await uow.outbox.enqueue(
            "telegram",
            str(CHAT),
            outbound_to_dict(message),
            now=rig.clock.now(),
            worker_id=worker_id,
        )
        return int(item.id or 0)


async def item_state(rig: Rig, item_id: int) -> tuple[str, int]:
    async with rig.store.unit() as uow:
        item = await uow.outbox.get(item_id)
        assert item is not None
        return item.status, item.attempts


async def test_a_429_is_retried_after_the_time_telegram_asks_for_and_sent_once(rig: Rig) -> None:
    rig.fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    item = await queue(rig, "【新任务】")
    assert await rig.dispatcher.run_once() == 1
    assert await item_state(rig, item) == ("pending", 1)
    rig.clock.advance(seconds=6)
    assert await rig.dispatcher.run_once() == 0  # Telegram said 7 seconds
    rig.clock.advance(seconds=1.5)
    assert await rig.dispatcher.run_once() == 1
    assert await item_state(rig, item) == ("sent", 2)
    delivered = [m for m in rig.fake.messages.values() if m.get("text") == "【新任务】"]
    assert len(delivered) == 1
    assert delivered[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
        "accept:MH-20261122-0001"
    )


async def test_a_server_error_is_retried_with_backoff(rig: Rig) -> None:
    rig.fake.fail_next("sendMessage", 502, "Bad Gateway")
    item = await queue(rig, "进展")
    await rig.dispatcher.run_once()
    assert await item_state(rig, item) == ("pending", 1)
    rig.clock.advance(seconds=10)
    await rig.dispatcher.run_once()
    assert await item_state(rig, item) == ("sent", 2)


async def test_the_same_outbox_item_is_never_sent_twice(rig: Rig) -> None:
    # a process sent it and died before recording it: the retry must not send it again
    message = Outbound(text="只发一次")
    first = await rig.notifier.send(Recipient("telegram", str(CHAT)), message, key="outbox:41")
    again = await rig.notifier.send(Recipient("telegram", str(CHAT)), message, key="outbox:41")
    assert first.ok and again.ok
    assert again.platform_message_id == first.platform_message_id
    assert len(rig.fake.of("sendMessage", CHAT)) == 1


async def test_a_send_the_outbox_stopped_waiting_for_is_recorded_and_not_sent_again(
    rig: Rig,
) -> None:
    # the platform takes longer than the outbox waits: the message is shown all the same
    rig.fake.delay_seconds = 0.8
    rig.dispatcher.send_timeout = 0.2
    item = await queue(rig, "【新任务】慢")
    await rig.dispatcher.run_once()
    assert await item_state(rig, item) == ("pending", 1)
    rig.clock.advance(seconds=30)
    await rig.dispatcher.run_once()  # the first send is still under way: no second one
    assert await item_state(rig, item) == ("pending", 2)
    assert len(rig.fake.of("sendMessage", CHAT)) == 1
    await asyncio.sleep(1.0)  # the platform answered the first send meanwhile
    rig.clock.advance(seconds=30)
    await rig.dispatcher.run_once()
    assert await item_state(rig, item) == ("sent", 3)
    [shown] = [m for m in rig.fake.messages.values() if m.get("text") == "【新任务】慢"]
    async with rig.store.unit() as uow:
        row = await uow.outbox.get(item)
    assert row is not None and row.platform_message_id == str(shown["message_id"])
    assert len(rig.fake.of("sendMessage", CHAT)) == 1


async def test_edits_that_change_nothing_or_whose_message_is_gone_are_done(rig: Rig) -> None:
    sent = await rig.notifier.send(
        Recipient("telegram", str(CHAT)), Outbound(text="卡片"), key="outbox:1"
    )
    edit = Outbound(text="卡片", data={EDIT_ID: str(sent.platform_message_id)})
    same = await rig.notifier.send(Recipient("telegram", str(CHAT)), edit, key="outbox:2")
    assert same.ok and "not modified" in same.detail
    gone = Outbound(text="卡片", data={EDIT_ID: "424242"})
    result = await rig.notifier.send(Recipient("telegram", str(CHAT)), gone, key="outbox:3")
    assert result.ok and not result.retry and "nothing to edit" in result.detail


async def _community(rig: Rig) -> tuple[int, int, int]:
    async with rig.store.unit() as uow:
        community = await uow.registry.add(Community(name="测试社区"))
        grid = await uow.registry.add(Grid(community_id=community.id, name="第一网格"))
        worker = await uow.registry.add(
            GridWorker(name="张伟", community_id=community.id, grid_id=grid.id)
        )
        leader = await uow.registry.add(
            GridWorker(name="陈静", role="grid_leader", community_id=community.id)
        )
        return int(community.id), int(worker.id), int(leader.id)


async def test_a_blocked_bot_marks_the_worker_unreachable_and_uses_the_next_channel(
    rig: Rig,
) -> None:
    _, worker, _ = await _community(rig)
    async with rig.store.unit() as uow:
        await uow.registry.bind_worker_identity(worker, "telegram", str(CHAT), priority=0)
        await uow.registry.bind_worker_identity(worker, "web", "worker-zhang", priority=1)
    rig.fake.block(CHAT)
    item = await queue(rig, "【新任务】MH-20261122-0001", worker_id=worker)
    await rig.dispatcher.run_once()
    await rig.dispatcher.run_once()
    assert await item_state(rig, item) == ("dead", 1)
    assert rig.mailbox.delivered == [("worker-zhang", "【新任务】MH-20261122-0001")]
    async with rig.store.unit() as uow:
        ident = await uow.registry.identity("telegram", str(CHAT))
        assert ident is not None and not ident.reachable


async def test_a_worker_blocked_everywhere_has_the_message_relayed_to_the_grid_leader(
    rig: Rig,
) -> None:
    _, worker, leader = await _community(rig)
    async with rig.store.unit() as uow:
        await uow.registry.bind_worker_identity(worker, "telegram", str(CHAT))
        await uow.registry.bind_worker_identity(leader, "web", "leader-chen")
    rig.fake.block(CHAT)
    await queue(rig, "【新任务】MH-20261122-0001", worker_id=worker)
    await rig.dispatcher.run_once()
    await rig.dispatcher.run_once()
    [(user, text)] = rig.mailbox.delivered
    assert user == "leader-chen"
    assert "张伟" in text and "无法送达" in text and "【新任务】MH-20261122-0001" in text
    # a relay that cannot be delivered either is not relayed again
    async with rig.store.unit() as uow:
        items = await uow.outbox.items()
    assert sum(i.payload.get("kind") == "relay" for i in items) == 1
