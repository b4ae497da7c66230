"""Answering within WeChat's rules: one processing per message whatever the retries, passive
replies within the budget (or a holding reply and a push), push mode, the shared token."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.bot.wechat.helpers import eventually, ticket_number
from tests.bot.wechat.wire import next_msg_id, payload

URGENT = "3幢电梯坏了，有人被困在里面"


async def tickets(container: Any) -> list[Any]:
    async with container.store.unit() as uow:
        return list(await uow.tickets.search())


async def test_three_concurrent_deliveries_of_one_msgid_make_one_ticket_and_one_answer(
    wechat_app: Any,
) -> None:
    async with wechat_app(aes=True) as w:
        xml = payload("text", openid="oStorm000001", content=URGENT, msg_id=next_msg_id())
        answers = await asyncio.gather(*(w.wire.post(xml) for _ in range(3)))
        assert [a.status for a in answers] == [200, 200, 200]
        texts = {a.text for a in answers}
        assert len(texts) == 1, texts  # the same passive reply, whichever one WeChat keeps
        number = ticket_number(texts.pop())
        assert [t.number for t in await tickets(w.container)] == [number]
        await asyncio.sleep(0.3)  # the outbox runs every 50 ms: nothing to the resident
        assert w.fake.texts_to("oStorm000001") == []


async def test_slow_processing_gets_a_holding_reply_within_the_budget_and_the_answer_pushed(
    wechat_app: Any,
) -> None:
    async with wechat_app(passive_budget_seconds=1.0) as w:
        openid = "oSlow0000001"
        xml = payload("text", openid=openid, content=URGENT, msg_id=next_msg_id())
        release = asyncio.Event()
        locked = asyncio.Event()

        async def busy_conversation() -> None:
            # another message of this resident is being handled: the conversation is locked
            async with w.container.sessions.lock(f"conv:wechat:{openid}"):
                locked.set()
                await release.wait()

        holder = asyncio.create_task(busy_conversation())
        await locked.wait()
        started = time.perf_counter()
        first, retry = await asyncio.gather(w.wire.post(xml), w.wire.post(xml))
        elapsed = time.perf_counter() - started
        assert elapsed < 1.5, elapsed  # WeChat would give up at 5 s
        for answer in (first, retry):
            assert answer.text is not None and "正在为您处理" in answer.text
        assert await tickets(w.container) == []  # still waiting for the lock

        release.set()
        await holder
        pushed = await eventually(
            lambda: (t := w.fake.texts_to(openid)) and len(t) >= 3 and t, what="the answer"
        )
        number = ticket_number("\n".join(pushed))
        assert "张伟" in "\n".join(pushed)
        await asyncio.sleep(0.3)
        assert len([t for t in w.fake.texts_to(openid) if "已受理" in t]) == 1  # pushed once
        assert [t.number for t in await tickets(w.container)] == [number]
        # a late retry of the same message: the answer was pushed, so only "success"
        late = await w.wire.post(xml)
        assert (late.status, late.body) == (200, "success")


async def test_push_mode_answers_success_at_once_and_sends_through_customer_service(
    wechat_app: Any,
) -> None:
    async with wechat_app(aes=True, reply_mode="push") as w:
        openid = "oPush0000001"
        xml = payload("text", openid=openid, content=URGENT, msg_id=next_msg_id())
        answers = await asyncio.gather(*(w.wire.post(xml) for _ in range(3)))
        assert [(a.status, a.body) for a in answers] == [(200, "success")] * 3
        pushed = await eventually(
            lambda: (t := w.fake.texts_to(openid)) and len(t) >= 3 and t, what="3 replies"
        )
        assert "96333" in pushed[0] and "已受理" in pushed[1] and "手机号" in pushed[2]
        await asyncio.sleep(0.3)
        assert len(w.fake.texts_to(openid)) == 3  # the retries pushed nothing more
        assert len(await tickets(w.container)) == 1


async def test_concurrent_callers_in_one_process_fetch_the_token_once(wechat_app: Any) -> None:
    async with wechat_app() as w:
        w.fake.token_delay = 0.2
        api = w.container.extras["wechat"].api
        tokens = await asyncio.gather(*(api.access_token() for _ in range(5)))
        assert len(set(tokens)) == 1 and w.fake.token_fetches == 1


@pytest.mark.slow
async def test_retry_storm_across_two_replicas_makes_one_ticket_and_one_answer(
    two_wechat_apps: Any,
) -> None:
    async with two_wechat_apps(aes=True) as (a, b):
        xml = payload("text", openid="oStorm000002", content=URGENT, msg_id=next_msg_id())
        answers = await asyncio.gather(a.wire.post(xml), b.wire.post(xml), a.wire.post(xml))
        assert [x.status for x in answers] == [200, 200, 200]
        texts = {x.text for x in answers}
        assert len(texts) == 1 and None not in texts, texts
        assert len(await tickets(a.container)) == 1
        await asyncio.sleep(0.3)
        assert a.fake.texts_to("oStorm000002") == []


@pytest.mark.slow
async def test_retry_storm_across_two_replicas_in_push_mode_pushes_once(
    two_wechat_apps: Any,
) -> None:
    async with two_wechat_apps(reply_mode="push") as (a, b):
        openid = "oStorm000003"
        xml = payload("text", openid=openid, content=URGENT, msg_id=next_msg_id())
        answers = await asyncio.gather(a.wire.post(xml), b.wire.post(xml), b.wire.post(xml))
        assert [(x.status, x.body) for x in answers] == [(200, "success")] * 3
        await eventually(lambda: len(a.fake.texts_to(openid)) >= 3, what="3 replies")
        await asyncio.sleep(0.3)
        assert len(a.fake.texts_to(openid)) == 3
        assert len(await tickets(b.container)) == 1


@pytest.mark.slow
async def test_two_replicas_share_one_token_and_never_invalidate_each_other(
    two_wechat_apps: Any,
) -> None:
    async with two_wechat_apps() as (a, b):
        fake = a.fake
        fake.token_delay = 0.2
        api_a, api_b = (x.container.extras["wechat"].api for x in (a, b))
        tokens = await asyncio.gather(api_a.access_token(), api_b.access_token())
        assert tokens[0] == tokens[1] and fake.token_fetches == 1
        # the token expires: both replicas hit 42001 at once; one refreshes, both succeed
        fake.expire_token()
        body = {"touser": "oTok00000001", "msgtype": "text", "text": {"content": "测试"}}
        await asyncio.gather(api_a.send_custom(body), api_b.send_custom(body))
        assert fake.token_fetches == 2 and fake.forced_refreshes == 0
        assert len(fake.custom) == 2
        # and both keep using the same, still valid token
        assert await api_a.access_token() == await api_b.access_token() == fake.current_token


async def test_a_retry_takes_over_when_the_first_owner_died_before_storing_the_message(
    wechat_app: Any,
) -> None:
    async with wechat_app() as w:
        msg_id = next_msg_id()
        # a replica claimed this MsgId and crashed before storing it; its claim runs out in 1 s
        assert await w.container.sessions.claim(f"wechat:msg:{msg_id}", ttl_seconds=1)
        xml = payload("text", openid="oTakeover001", content=URGENT, msg_id=msg_id)
        answer = await w.wire.post(xml)
        assert answer.text is not None and "已受理" in answer.text
        assert 0.9 < answer.elapsed < 4.0
        assert len(await tickets(w.container)) == 1
