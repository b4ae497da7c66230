"""Outbox delivery: retried with backoff, never lost, never sent twice, falls back on block."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.outbox import OutboxDispatcher
from handlers.messages import Outbound
from handlers.ports import DeliveryResult, Recipient
from storage.models import Community, GridWorker
from tests.factories import FakeClock


class FlakyTransport:
    """A fake platform: answers with scripted results, records what was really delivered."""

    def __init__(
        self, channel: str, script: list[DeliveryResult] | None = None, delay: float = 0.0
    ) -> None:
        self.channel = channel
        self.script = list(script or [])
        self.delivered: list[tuple[str, str]] = []
        self.calls = 0
        self.delay = delay

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        result = self.script.pop(0) if self.script else DeliveryResult(ok=True)
        if result.ok:
            self.delivered.append((recipient.user_id, message.text))
        return result


async def queue(
    store: Any, channel: str, user: str, text: str, clock: FakeClock, worker_id: int | None = None
) -> None:
    async with store.unit() as uow:
        await uow.outbox.enqueue(
            channel, user, {"text": text, "buttons": []}, now=clock.now(), worker_id=worker_id
        )


async def test_failed_send_is_retried_with_backoff_and_delivered_once(sql_store: Any) -> None:
    clock = FakeClock()
    transport = FlakyTransport(
        "web",
        [
            DeliveryResult(ok=False, retry=True, detail="502"),
            DeliveryResult(ok=False, retry=True, retry_after=30),
        ],
    )
    dispatcher = OutboxDispatcher(sql_store, {"web": transport}, clock)
    await queue(sql_store, "web", "r1", "已接单", clock)

    assert await dispatcher.run_once() == 1  # fails: backoff ~5 s
    assert await dispatcher.run_once() == 0  # not due yet
    clock.advance(seconds=7)
    assert await dispatcher.run_once() == 1  # fails: platform says wait 30 s
    clock.advance(seconds=20)
    assert await dispatcher.run_once() == 0
    clock.advance(seconds=11)
    assert await dispatcher.run_once() == 1
    assert transport.delivered == [("r1", "已接单")]
    clock.advance(hours=1)
    assert await dispatcher.run_once() == 0
    async with sql_store.unit() as uow:
        [item] = await uow.outbox.items()
    assert (item.status, item.attempts) == ("sent", 3)


async def test_a_message_outlives_an_outage_of_hours_and_is_dead_only_after_the_horizon(
    sql_store: Any,
) -> None:
    clock = FakeClock()
    transport = FlakyTransport("web", [DeliveryResult(ok=False, retry=True, detail="down")] * 999)
    dispatcher = OutboxDispatcher(sql_store, {"web": transport}, clock, horizon_seconds=6 * 3600)
    await queue(sql_store, "web", "r1", "进展", clock)
    waits: list[float] = []
    for _ in range(200):
        if not await dispatcher.run_once():
            async with sql_store.unit() as uow:
                due = await uow.outbox.next_due_at()
            if due is None:
                break
            waits.append((due - clock.now()).total_seconds())
            clock.advance(seconds=max(1.0, waits[-1]))
    async with sql_store.unit() as uow:
        [item] = await uow.outbox.items()
    assert item.status == "dead" and "down" in item.last_error
    assert (item.sent_at, clock.now() - item.created_at >= timedelta(hours=6)) == (None, True)
    assert max(waits) <= 600 * 1.2  # capped backoff: an outage's end is noticed within minutes
    assert 30 <= transport.calls <= 60  # hours of trying, not a stampede


async def test_retry_after_is_honoured_through_a_rate_limit_window(sql_store: Any) -> None:
    clock = FakeClock()
    limited = [DeliveryResult(ok=False, retry=True, retry_after=2, detail="429")] * 10
    transport = FlakyTransport("web", limited)
    dispatcher = OutboxDispatcher(sql_store, {"web": transport}, clock)
    await queue(sql_store, "web", "r1", "被困时请按警铃，不要扒门", clock)
    for _ in range(12):
        await dispatcher.run_once()
        clock.advance(seconds=2)
    assert transport.delivered == [("r1", "被困时请按警铃，不要扒门")]
    assert transport.calls == 11


async def test_urgent_items_go_out_before_older_normal_ones(sql_store: Any) -> None:
    clock = FakeClock()
    transport = FlakyTransport("web")
    dispatcher = OutboxDispatcher(sql_store, {"web": transport}, clock, batch=1)
    await queue(sql_store, "web", "r1", "普通进展", clock)
    async with sql_store.unit() as uow:
        payload = {"text": "紧急任务", "buttons": [], "data": {"priority": "urgent"}}
        await uow.outbox.enqueue("web", "w9", payload, now=clock.now())
    await dispatcher.run_once()
    assert transport.delivered == [("w9", "紧急任务")]


async def test_two_dispatchers_never_send_the_same_message_twice(sql_store: Any) -> None:
    clock = FakeClock()
    transport = FlakyTransport("web", delay=0.01)
    one = OutboxDispatcher(sql_store, {"web": transport}, clock, batch=5)
    two = OutboxDispatcher(sql_store, {"web": transport}, clock, batch=5)
    for i in range(40):
        await queue(sql_store, "web", f"user-{i % 7}", f"msg-{i}", clock)
    for _ in range(20):
        await asyncio.gather(one.run_once(), two.run_once())
    texts = [text for _, text in transport.delivered]
    assert sorted(texts) == sorted(f"msg-{i}" for i in range(40))
    assert len(texts) == len(set(texts))
    for user in {u for u, _ in transport.delivered}:
        mine = [int(t.split("-")[1]) for u, t in transport.delivered if u == user]
        assert mine == sorted(mine)  # each recipient's messages in order


async def test_blocked_worker_channel_falls_back_to_the_next_one(sql_store: Any) -> None:
    clock = FakeClock()
    async with sql_store.unit() as uow:
        community = await uow.registry.add(Community(name="测试社区"))
        worker = await uow.registry.add(GridWorker(name="张伟", community_id=community.id))
        await uow.registry.bind_worker_identity(worker.id, "telegram", "tg-1", priority=0)
        await uow.registry.bind_worker_identity(worker.id, "web", "worker-zhang", priority=1)
    telegram = FlakyTransport(
        "telegram", [DeliveryResult(ok=False, unreachable=True, detail="403 bot was blocked")]
    )
    web = FlakyTransport("web")
    dispatcher = OutboxDispatcher(sql_store, {"telegram": telegram, "web": web}, clock)
    await queue(sql_store, "telegram", "tg-1", "【新任务】", clock, worker_id=worker.id)
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert web.delivered == [("worker-zhang", "【新任务】")]
    async with sql_store.unit() as uow:
        ident = await uow.registry.identity("telegram", "tg-1")
    assert ident is not None and not ident.reachable


async def test_message_for_a_channel_without_transport_is_not_retried_forever(
    sql_store: Any,
) -> None:
    clock = FakeClock()
    dispatcher = OutboxDispatcher(sql_store, {}, clock)
    await queue(sql_store, "fax", "r1", "hello", clock)
    await dispatcher.run_once()
    clock.advance(days=1)
    assert await dispatcher.run_once() == 0
    async with sql_store.unit() as uow:
        [item] = await uow.outbox.items()
    assert item.status == "dead" and "no notifier" in item.last_error


async def test_a_crashed_sender_s_claim_expires_and_the_message_still_goes_out(
    sql_store: Any,
) -> None:
    clock = FakeClock()
    await queue(sql_store, "web", "r1", "办结", clock)
    async with sql_store.unit() as uow:  # a process claims it and dies before sending
        assert len(await uow.outbox.claim_due(clock.now(), limit=5, lease_seconds=60)) == 1
    transport = FlakyTransport("web")
    dispatcher = OutboxDispatcher(sql_store, {"web": transport}, clock)
    assert await dispatcher.run_once() == 0
    clock.advance(seconds=61)
    assert await dispatcher.run_once() == 1
    assert transport.delivered == [("r1", "办结")]
