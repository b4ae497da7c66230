"""What Telegram users see is right: no card buttons twice, only their own phone, no report
filed from someone else's forwarded words without asking, reachable again when they write."""

from __future__ import annotations

from typing import Any

from tests.bot.telegram.conftest import RESIDENT, WORKER, TelegramApp
from tests.bot.telegram.test_e2e_telegram import bind, card_for, file_noise_report, last_with


async def tickets(tg: TelegramApp) -> list[Any]:
    async with tg.container.store.unit() as uow:
        return list(await uow.tickets.search())


async def test_the_reply_under_an_accepted_card_does_not_repeat_the_cards_buttons(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        number = await file_noise_report(tg, RESIDENT)
        card = card_for(tg, WORKER, number)
        calls = await tg.tap(WORKER, card, "接单")
        replies = [c for c in calls if c.method == "sendMessage" and c.chat_id == WORKER.id]
        assert replies and "已接单" in replies[-1].text
        assert all(not r.buttons for r in replies), [r.titles for r in replies]
        # the card itself still carries them, once
        card_buttons = tg.fake.message(WORKER.id, card.message_id)["reply_markup"]
        titles = [b["text"] for row in card_buttons["inline_keyboard"] for b in row]
        assert "进展" in titles and "办结" in titles


async def test_a_contact_card_of_someone_else_is_not_taken_as_the_residents_phone(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        calls = await tg.say(RESIDENT, "3幢楼上装修太吵了，晚上十点还在电钻")
        calls = await tg.tap(RESIDENT, last_with(calls, RESIDENT.id), "跳过")
        assert "手机号" in last_with(calls, RESIDENT.id).text
        calls = await tg.send(tg.updates.contact_of(RESIDENT, "+86 139 0000 1111", 5222333444))
        answer = last_with(calls, RESIDENT.id)
        assert "别人的名片" in answer.text and "1111" not in answer.text
        calls = await tg.send(tg.updates.contact_of(RESIDENT, "+86 139 0000 2222", None))
        assert "别人的名片" in last_with(calls, RESIDENT.id).text
        # nothing of the neighbour's number was stored with the messages
        async with tg.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("telegram", str(RESIDENT.id))
        assert all("1390000" not in str(r.payload) for r in rows)
        # the question still waits for their own number; their own card answers it
        calls = await tg.send(tg.updates.contact(RESIDENT, "+86 138 1234 5678"))
        confirm = last_with(calls, RESIDENT.id)
        assert "138****5678" in confirm.text and "确认提交" in confirm.titles
        calls = await tg.tap(RESIDENT, confirm, "确认提交")
        [ticket] = await tickets(tg)
        assert ticket.contact_phone == "13812345678"


async def test_a_forwarded_message_is_filed_as_the_senders_report_only_when_they_say_so(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        calls = await tg.send(
            tg.updates.forwarded(RESIDENT, "3幢楼道里堆满了纸箱杂物，好几天没人清理")
        )
        ask = last_with(calls, RESIDENT.id)
        assert "转发" in ask.text and ask.titles == ["是，按这条报事", "不是"]
        calls = await tg.tap(RESIDENT, ask, "不是")
        assert "不登记" in last_with(calls, RESIDENT.id).text
        assert not tg.fake.message(RESIDENT.id, ask.message_id).get("reply_markup")
        assert await tickets(tg) == []

        calls = await tg.send(tg.updates.forwarded(RESIDENT, "5幢楼下的路灯坏了一个星期了"))
        ask = last_with(calls, RESIDENT.id)
        calls = await tg.tap(RESIDENT, ask, "是，按这条报事")
        question = last_with(calls, RESIDENT.id)
        assert "转发" not in question.text and "照片" in question.text  # the report goes on
        assert not tg.fake.message(RESIDENT.id, ask.message_id).get("reply_markup")
        # a second press (a client still showing the buttons) files nothing more
        again = await tg.tap(RESIDENT, ask, "是，按这条报事")
        assert "已经处理过" in last_with(again, RESIDENT.id).text


async def test_a_forwarded_danger_is_never_held_back_by_the_question(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        calls = await tg.send(tg.updates.forwarded(RESIDENT, "3幢电梯困人了，有人被困在里面"))
        texts = "\n".join(c.text for c in calls if c.chat_id == RESIDENT.id)
        assert "转发" not in texts and "96333" in texts
        assert [t.priority for t in await tickets(tg)] == ["urgent"]


async def test_a_resident_marked_unreachable_is_reachable_again_when_they_write(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        tg.fake.block(RESIDENT.id)
        await tg.say(RESIDENT, "/start")  # the answer gets 403: the bot was blocked
        async with tg.container.store.unit() as uow:
            ident = await uow.registry.identity("telegram", str(RESIDENT.id))
        assert ident is not None and not ident.reachable
        tg.fake.blocked.discard(RESIDENT.id)
        calls = await tg.say(RESIDENT, "/help")
        assert "使用方法" in last_with(calls, RESIDENT.id).text
        async with tg.container.store.unit() as uow:
            ident = await uow.registry.identity("telegram", str(RESIDENT.id))
        assert ident is not None and ident.reachable


async def test_writing_again_resends_what_failed_for_a_passing_reason_never_what_was_refused(
    start_telegram: Any,
) -> None:
    from tests.factories import FakeClock

    clock = FakeClock()
    async with start_telegram(clock=clock) as tg:
        # the bot is blocked: the answer to /start is refused for good (403)
        tg.fake.block(RESIDENT.id)
        await tg.say(RESIDENT, "/start")
        tg.fake.blocked.discard(RESIDENT.id)
        # Telegram is down for this chat for a whole day: the answer to /status gives up
        for _ in range(3):
            tg.fake.fail_next("sendMessage", 502, "Bad Gateway", chat_id=RESIDENT.id)
        await tg.send(tg.updates.text(RESIDENT, "/status"))
        clock.advance(hours=25)
        tg.container.dispatcher.kick()
        await tg.settle()
        async with tg.container.store.unit() as uow:
            dead = await uow.outbox.items(status="dead")
        assert sorted(d.dead_reason for d in dead) == ["gave_up", "unreachable"]

        tg.fake.failures.clear()
        calls = await tg.say(RESIDENT, "/cancel")
        texts = [c.text for c in calls if c.method == "sendMessage" and c.chat_id == RESIDENT.id]
        assert any("没有进行中的工单" in t for t in texts)  # the /status answer, at last
        assert not any("使用方法" in t for t in texts)  # the refused /start answer stays dead
        async with tg.container.store.unit() as uow:
            [still] = await uow.outbox.items(status="dead")
        assert still.dead_reason == "unreachable"
