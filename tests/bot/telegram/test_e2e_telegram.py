"""Whole loops through the Telegram webhook and the fake Bot API, on both backends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.binding import issue_bind_code
from tests.bot.telegram.conftest import RESIDENT, WORKER, TelegramApp
from tests.bot.telegram.fake_api import Call
from tests.bot.telegram.updates import TgUser

pytestmark = pytest.mark.slow

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(200)


def number_in(calls: list[Call]) -> str:
    match = re.search(r"MH-\d{8}-\d{4}", "\n".join(c.text for c in calls))
    assert match, [c.text for c in calls]
    return match.group()


async def worker_id(tg: TelegramApp, name: str) -> int:
    async with tg.container.store.unit() as uow:
        [worker] = [w for w in await uow.registry.workers() if w.name == name]
        return int(worker.id)


async def bind(tg: TelegramApp, user: TgUser, name: str) -> None:
    issued = await issue_bind_code(
        tg.container.store, tg.container.clock, await worker_id(tg, name)
    )
    [reply] = await tg.say(user, f"/start bind-{issued.code}")
    assert "绑定成功" in reply.text and name in reply.text


def last_with(calls: list[Call], chat: int, method: str = "sendMessage") -> Call:
    found = [c for c in calls if c.chat_id == chat and c.method == method]
    assert found, [(c.method, c.chat_id, c.text[:30]) for c in calls]
    return found[-1]


def card_for(tg: TelegramApp, user: TgUser, number: str) -> Call:
    """The task card a worker got for a ticket (HTML, unlike the plain notices)."""
    [card] = [
        c
        for c in tg.fake.sent_to(user.id)
        if number in c.text and c.params.get("parse_mode") == "HTML"
    ]
    return card


def card_state(tg: TelegramApp, card: Call) -> dict[str, Any]:
    message = tg.fake.message(WORKER.id, card.message_id)
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return {
        "text": message.get("text") or message.get("caption") or "",
        "buttons": [b["text"] for row in rows for b in row],
    }


async def file_noise_report(tg: TelegramApp, user: TgUser) -> str:
    """The resident reports noise on Telegram, skips the room and shares their phone."""
    calls = await tg.say(user, "3幢楼上装修太吵了，晚上十点还在电钻")
    room_question = last_with(calls, user.id)
    assert "门牌号" in room_question.text
    calls = await tg.tap(user, room_question, "跳过")
    phone_question = last_with(calls, user.id)
    assert "手机号" in phone_question.text
    # the phone question offers Telegram's own "share my phone number" button
    keyboard = phone_question.params["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    calls = await tg.send(tg.updates.contact(user, "+86 138 1234 5678"))
    confirm = last_with(calls, user.id)
    assert "138****5678" in confirm.text and "确认提交" in confirm.titles
    calls = await tg.tap(user, confirm, "确认提交")
    created = last_with(calls, user.id)
    assert "已受理" in created.text and "张伟" in created.text
    return number_in([created])


async def test_resident_and_worker_both_on_telegram_from_report_to_rating(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        number = await file_noise_report(tg, RESIDENT)

        # the worker's task card: facts, SLA, its buttons, HTML
        card = card_for(tg, WORKER, number)
        assert card.params["parse_mode"] == "HTML"
        for fact in ("噪音扰民", "3幢", "晚上十点还在电钻", "13812345678", "响应时限", "等待接单"):
            assert fact in card.text, fact
        # the deadline is the SLA accept clock's: a normal report, 2 hours
        assert "前（2小时内）" in card.text
        # 已回电 / 联系不上 while the call-back promised to the resident is due
        assert card.titles == [
            "接单", "已回电", "联系不上", "进展", "办结", "转派", "移交部门", "联系居民",
        ]  # fmt: skip

        # 接单: the query is answered, the card changes in place, the resident is told
        calls = await tg.tap(WORKER, card, "接单")
        [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
        assert "已接单" in answer.params["text"]
        state = card_state(tg, card)
        assert "状态</b>：已接单" in state["text"]
        assert state["buttons"] == [
            "已回电", "联系不上", "进展", "办结", "转派", "移交部门", "联系居民",
        ]  # fmt: skip
        assert "张伟接单" in last_with(calls, RESIDENT.id).text

        # a progress note with a photo, written as a reply to the card
        tg.fake.add_file("work-photo-large", JPEG)
        calls = await tg.send(
            tg.updates.photo(
                WORKER, "work-photo", "已上门劝导，装修队答应晚上停工", reply_to=card.message_id
            )
        )
        update = last_with(calls, RESIDENT.id, "sendPhoto")
        assert "有新进展" in update.text and "晚上停工" in update.text
        assert update.files and next(iter(update.files.values())) == JPEG
        state = card_state(tg, card)
        assert "处理中" in state["text"] and "晚上停工" in state["text"]

        # 办结 with a note: the button asks for it, the next message is the note
        calls = await tg.tap(WORKER, card, "办结")
        assert "办结说明" in last_with(calls, WORKER.id).text
        calls = await tg.say(WORKER, "已协调装修队，晚上八点后不再施工")
        assert "已办结" in last_with(calls, WORKER.id).text
        resolved = last_with(calls, RESIDENT.id)
        assert "已办结" in resolved.text and "八点后不再施工" in resolved.text
        assert resolved.titles[0] == "★★★★★"
        state = card_state(tg, card)
        assert "已办结，等待居民评价" in state["text"] and state["buttons"] == ["联系居民"]

        # the resident rates with a button; the choice disappears from that message
        calls = await tg.tap(RESIDENT, resolved, "★★★★★")
        assert "5星" in last_with(calls, RESIDENT.id).text
        assert not tg.fake.message(RESIDENT.id, resolved.message_id).get("reply_markup")
        assert "5星" in last_with(calls, WORKER.id).text
        assert "已关闭" in card_state(tg, card)["text"]

        async with tg.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and (ticket.status, ticket.rating) == ("closed", 5)
            events = await uow.tickets.events(ticket.id)
            photos = await uow.attachments.for_ticket(ticket.id)
        assert [e.kind for e in events] == [
            "created",
            "assign",
            "accept",
            "progress",
            "resolve",
            "rate",
        ]
        assert [e.actor_name for e in events if e.actor_type == "worker"] == ["张伟"] * 3
        # the bytes live in the object store (the row keeps the key)
        assert [tg.container.objects.get(p.object_key) for p in photos] == [JPEG]


async def test_a_web_resident_and_a_telegram_worker_in_one_flow(start_telegram: Any) -> None:
    from tests.app_fixtures import Running

    async with start_telegram() as tg:
        web = Running(client=tg.client, container=tg.container, app=None)
        await bind(tg, WORKER, "张伟")
        replies = await web.say("resident-web", "3幢电梯坏了，有人被困在里面")
        number = number_in_texts([r["text"] for r in replies])
        await web.say("resident-web", "13812345678")
        await tg.settle()

        card = card_for(tg, WORKER, number)
        assert "【紧急】" in card.text and "10分钟内" in card.text
        assert "13812345678" in card_state(tg, card)["text"]  # the phone added after filing
        # a second task for the same worker: replies to a card must pick the card's ticket
        other = number_in_texts(
            [r["text"] for r in await web.say("resident-web-2", "1幢电梯困人了，快来人")]
        )
        await tg.settle()
        assert other != number and card_for(tg, WORKER, other)

        await tg.tap(WORKER, card, "接单")
        await tg.say(WORKER, "维保公司已到场，被困人员已救出", reply_to=card.message_id)
        # 办结 typed as a reply to the card needs no ticket number
        calls = await tg.say(WORKER, "办结 更换了门机板，电梯恢复运行", reply_to=card.message_id)
        assert f"工单 {number} 已办结" in last_with(calls, WORKER.id).text

        updates = await web.inbox("resident-web", expect=3)
        assert "张伟接单" in updates[0]["text"]
        assert "已救出" in updates[1]["text"]
        assert "电梯恢复运行" in updates[2]["text"]
        assert updates[2]["buttons"][0]["payload"] == f"rate:{number}:5"
        thanks = await web.say("resident-web", button=f"rate:{number}:4")
        assert "4星" in thanks[0]["text"]
        await tg.settle()
        assert "已关闭" in card_state(tg, card)["text"]
        assert "4星" in last_with(tg.fake.calls, WORKER.id).text
        async with tg.container.store.unit() as uow:
            untouched = await uow.tickets.by_number(other)
            assert untouched is not None and untouched.status == "assigned"


def number_in_texts(texts: list[str]) -> str:
    match = re.search(r"MH-\d{8}-\d{4}", "\n".join(texts))
    assert match, texts
    return match.group()


async def test_transfer_offers_grids_and_workers_as_buttons_and_updates_both_cards(
    start_telegram: Any,
) -> None:
    li = TgUser(5444444444, "李娜")
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        await bind(tg, li, "李娜")
        number = await file_noise_report(tg, RESIDENT)
        card = card_for(tg, WORKER, number)

        calls = await tg.tap(WORKER, card, "转派")
        options = last_with(calls, WORKER.id)
        assert "转派给" in options.text
        assert {"第二网格", "李娜", "陈静"} <= set(options.titles)
        assert all(p.startswith(f"transfer:{number}:") for p in options.payloads)
        calls = await tg.tap(WORKER, options, "李娜")
        assert "已转派给李娜" in last_with(calls, WORKER.id).text
        # the options are taken off; 张伟's card says who has it now and has no buttons
        assert not tg.fake.message(WORKER.id, options.message_id).get("reply_markup")
        state = card_state(tg, card)
        assert "已转交李娜处理" in state["text"] and state["buttons"] == []
        # 李娜 gets the card, marked as transferred; the resident is told
        new_card = card_for(tg, li, number)
        assert "由张伟转给您" in new_card.text and "接单" in new_card.titles
        assert "转交网格员李娜" in last_with(calls, RESIDENT.id).text
        # the old card's buttons no longer act
        calls = await tg.send(tg.updates.callback(WORKER, f"accept:{number}", card.message_id))
        assert "不在您的待办中" in last_with(calls, WORKER.id).text
        async with tg.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.status == "transferred"
            kinds = [e.kind for e in await uow.tickets.events(ticket.id)]
        assert kinds == ["created", "assign", "transfer"]


async def test_a_worker_who_blocked_the_bot_gets_the_card_on_the_web_instead(
    start_telegram: Any,
) -> None:
    from tests.app_fixtures import Running

    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        tg.fake.block(WORKER.id)
        number = await file_noise_report(tg, RESIDENT)
        web = Running(client=tg.client, container=tg.container, app=None)
        [task] = await web.inbox("worker-zhang", expect=1)
        assert number in task["text"] and "接单" in [b["title"] for b in task["buttons"]]
        async with tg.container.store.unit() as uow:
            ident = await uow.registry.identity("telegram", str(WORKER.id))
            assert ident is not None and not ident.reachable
        # the worker acts on the web; the Telegram card is not touched
        accepted = await web.say("worker-zhang", f"接单 {number}")
        assert "已接单" in accepted[0]["text"]
        await tg.settle()
        assert "张伟接单" in last_with(tg.fake.calls, RESIDENT.id).text


async def test_long_polling_handles_updates_without_a_webhook(start_telegram: Any) -> None:
    import asyncio
    import time

    async with start_telegram(poll_timeout_seconds=1) as tg:
        tg.fake.webhook = {"url": "https://example.invalid/webhooks/telegram"}
        first = tg.updates.text(RESIDENT, "/help")
        second = tg.updates.text(RESIDENT, "/status")
        tg.fake.push_update(first)
        stop = asyncio.Event()
        poller = asyncio.create_task(tg.runtime.poll(stop=stop))
        try:
            await tg.fake.wait_for("sendMessage", chat_id=RESIDENT.id)
            tg.fake.push_update(second)
            calls = await tg.fake.wait_for("sendMessage", chat_id=RESIDENT.id, count=2)
            # the poller confirms what it stored by asking for the updates after it
            deadline = time.monotonic() + 10
            while not any(
                int(c.params.get("offset", 0)) == second["update_id"] + 1
                for c in tg.fake.of("getUpdates")
            ):
                assert time.monotonic() < deadline, "second update never confirmed"
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await asyncio.wait_for(poller, 10)
        assert tg.fake.webhook == {}  # polling removed the webhook first
        assert "使用方法" in calls[0].text and "没有进行中的工单" in calls[1].text
        assert len(tg.fake.sent_to(RESIDENT.id)) == 2  # each update handled once
