"""Admission first (issue 13): while a burst is still being stored, no new turn starts.

One event loop stores and answers arrivals and runs the turns. A turn costs several times
what storing an arrival does, so turns started in the middle of a burst make every arrival
behind them late — neither its answer nor the holding reply within WeChat's 5 s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.bot.wechat.helpers import eventually
from tests.bot.wechat.wire import next_msg_id, payload

SLOTS = 2


async def test_no_turn_starts_while_a_burst_of_arrivals_waits_to_be_stored(
    wechat_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wechat_app(max_concurrent=SLOTS, passive_budget_seconds=3.0) as w:
        service = w.container.service
        receive, process = service.receive, service.process
        first = {"oEarly000001", "oEarly000002"}
        release = asyncio.Event()
        waiting: list[str] = []  # arrivals held before they are stored
        unstored_at_turn_start: list[int] = []

        async def slow_receive(msg: Any, **kwargs: Any) -> Any:
            if msg.user_id not in first:  # the rest of the burst: the database is slow
                waiting.append(msg.user_id)
                await release.wait()
                waiting.remove(msg.user_id)
            return await receive(msg, **kwargs)

        async def watched_process(inbound_id: int, msg: Any) -> Any:
            unstored_at_turn_start.append(len(waiting))
            return await process(inbound_id, msg)

        monkeypatch.setattr(service, "receive", slow_receive)
        monkeypatch.setattr(service, "process", watched_process)
        openids = sorted(first) + [f"oBurst{i:06d}" for i in range(12)]
        posts = asyncio.gather(
            *(
                w.wire.post(payload("text", openid=o, content="你好", msg_id=next_msg_id()))
                for o in openids
            )
        )
        await eventually(lambda: len(waiting) == 12, what="the burst held before storing")
        await asyncio.sleep(0.5)  # the first two are stored: their turns could start now
        assert unstored_at_turn_start == []
        release.set()
        answers = await posts
        assert [a.status for a in answers] == [200] * len(openids)
        assert all(a.text for a in answers)  # an answer or the holding reply, each
        await eventually(lambda: len(unstored_at_turn_start) == len(openids), what="turns")
        assert max(unstored_at_turn_start) <= SLOTS


async def test_turns_start_at_once_when_few_arrivals_wait(
    wechat_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wechat_app(max_concurrent=SLOTS, passive_budget_seconds=3.0) as w:
        service = w.container.service
        receive = service.receive
        release = asyncio.Event()

        async def slow_receive(msg: Any, **kwargs: Any) -> Any:
            if msg.user_id == "oLater000001":
                await release.wait()
            return await receive(msg, **kwargs)

        monkeypatch.setattr(service, "receive", slow_receive)
        xml = payload("text", openid="oLater000001", content="你好", msg_id=next_msg_id())
        later = asyncio.create_task(w.wire.post(xml))
        # one arrival still being stored (fewer than the slots): the next message is answered
        # with its turn's reply, not held back behind it
        answer = await w.wire.post(
            payload("text", openid="oFirst000001", content="你好", msg_id=next_msg_id())
        )
        assert answer.text and "正在为您处理" not in answer.text
        release.set()
        assert (await later).status == 200


async def test_a_burst_beyond_the_admission_queue_gets_the_holding_reply_once_stored(
    wechat_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one turn at a time, two more may wait for theirs: the rest of a burst of 8 cannot be
    # answered within the budget and gets the holding reply as soon as it is stored, not at
    # the deadline (the queue counts a message from its arrival, not from its storing)
    async with wechat_app(max_concurrent=1, admission_queue=2, passive_budget_seconds=3.0) as w:
        service = w.container.service
        process = service.process
        release = asyncio.Event()

        async def slow_process(inbound_id: int, msg: Any) -> Any:
            await release.wait()  # the turns are slow (a busy database, a long NLU parse)
            return await process(inbound_id, msg)

        monkeypatch.setattr(service, "process", slow_process)
        openids = [f"oQueue{i:06d}" for i in range(8)]
        answers = await asyncio.gather(
            *(
                w.wire.post(payload("text", openid=o, content="你好", msg_id=next_msg_id()))
                for o in openids
            )
        )
        release.set()
        assert all(a.status == 200 and a.text for a in answers)
        held = [
            openid
            for openid, a in zip(openids, answers, strict=True)
            if a.text and "正在为您处理" in a.text and a.elapsed < 1.5
        ]
        assert len(held) >= 5, [(a.text, round(a.elapsed, 2)) for a in answers]
        # each of them gets the turn's answer afterwards, pushed
        await eventually(
            lambda: all(w.fake.texts_to(o) for o in held), wait=30, what="the pushed answers"
        )
