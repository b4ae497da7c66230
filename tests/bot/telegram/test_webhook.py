"""The webhook's guard rails and every kind of resident update, through the running app."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from bot.logs import configure_logging
from handlers.messages import Inbound
from tests.bot.telegram.conftest import ENGLISH, RESIDENT, WORKER, TelegramApp
from tests.bot.telegram.test_e2e_telegram import bind, card_for, file_noise_report, last_with
from tests.factories import FakeClock

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(300)


async def count(tg: TelegramApp, table: str) -> int:
    async with tg.container.store.unit() as uow:
        result = await uow.session.execute(sa.text(f"SELECT count(*) FROM {table}"))
        return int(result.scalar_one())


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        update = tg.updates.text(RESIDENT, "3幢电梯坏了")
        for secret in ("wrong-secret", "", None):
            response = await tg.post(update, secret=secret)
            assert response.status_code == 403
            assert response.json() == {"error": "forbidden"}
        await tg.settle()
        assert await count(tg, "inboundmessage") == 0
        assert tg.fake.calls == []


async def test_the_webhook_is_closed_when_no_secret_is_configured(start_telegram: Any) -> None:
    async with start_telegram(webhook_secret=None) as tg:
        response = await tg.post(tg.updates.text(RESIDENT, "你好"), secret="")
        assert response.status_code == 403
        assert await count(tg, "inboundmessage") == 0


async def test_a_body_that_is_not_an_update_gets_a_clear_400(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        headers = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret-0123456789abcdef"}
        for body in (b"{not json", b'{"message": "no update_id"}', b"[]"):
            response = await tg.client.post("/webhooks/telegram", content=body, headers=headers)
            assert response.status_code == 400
            assert response.json() == {"error": "not a Telegram update"}


async def test_the_update_is_stored_before_the_webhook_answers(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        response = await tg.post(tg.updates.text(RESIDENT, "5幢门口有车堵了消防通道"))
        assert response.status_code == 200
        # answered at once; whatever happens next, the message is already in the database
        async with tg.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("telegram", str(RESIDENT.id))
        assert row.payload["text"] == "5幢门口有车堵了消防通道"
        await tg.settle()
        assert tg.fake.sent_to(RESIDENT.id)  # and then answered


async def test_a_repeated_update_id_is_handled_once(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        update = tg.updates.text(RESIDENT, "2幢楼道着火冒烟了")
        first = await tg.post(update)
        second = await tg.post(update)
        assert first.status_code == second.status_code == 200
        await tg.settle()
        again = await tg.post(update)  # and long after it was processed
        assert again.status_code == 200
        await tg.settle()
        assert await count(tg, "inboundmessage") == 1
        assert await count(tg, "ticket") == 1
        replies = tg.fake.sent_to(RESIDENT.id)
        assert sum("已受理" in c.text for c in replies) == 1


async def test_unknown_callback_data_is_answered_politely_and_changes_nothing(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        calls = await tg.send(tg.updates.callback(RESIDENT, "explode:everything", 1030))
        [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
        assert answer.params["callback_query_id"].startswith("cbq-")
        assert "没太明白" in last_with(calls, RESIDENT.id).text
        calls = await tg.send(tg.updates.callback(RESIDENT, "h:" + "0" * 32, 1031))
        assert "没太明白" in last_with(calls, RESIDENT.id).text
        assert await count(tg, "ticket") == 0
        assert await count(tg, "ticketevent") == 0


async def test_a_worker_s_button_for_someone_else_s_ticket_is_refused_and_changes_nothing(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        number = await file_noise_report(tg, RESIDENT)
        intruder = WORKER.__class__(5222222222, "李娜")
        await bind(tg, intruder, "李娜")  # 第二网格: not her ticket
        async with tg.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            before = (ticket.status, ticket.assignee_id, len(await uow.tickets.events(ticket.id)))
        edits_before = len(tg.fake.of({"editMessageText", "editMessageCaption"}))
        calls = await tg.send(tg.updates.callback(intruder, f"accept:{number}", 999))
        assert "不在您的待办中" in last_with(calls, intruder.id).text
        async with tg.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            after = (ticket.status, ticket.assignee_id, len(await uow.tickets.events(ticket.id)))
        assert after == before
        assert len(tg.fake.of({"editMessageText", "editMessageCaption"})) == edits_before
        cards = [c for c in tg.fake.sent_to(intruder.id) if c.params.get("parse_mode") == "HTML"]
        assert not any(number in c.text for c in cards)


async def test_group_chats_and_edits_are_acknowledged_and_ignored(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        for update in (tg.updates.group(RESIDENT), tg.updates.edited(RESIDENT)):
            response = await tg.post(update)
            assert response.status_code == 200
        await tg.settle()
        assert await count(tg, "inboundmessage") == 0
        assert tg.fake.calls == []


async def test_a_user_who_blocks_the_bot_is_unreachable_until_they_restart_it(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await tg.say(RESIDENT, "/start")
        await tg.send(tg.updates.blocked(RESIDENT))
        async with tg.container.store.unit() as uow:
            ident = await uow.registry.identity("telegram", str(RESIDENT.id))
            assert ident is not None and not ident.reachable
        await tg.send(tg.updates.blocked(RESIDENT, status="member"))
        async with tg.container.store.unit() as uow:
            ident = await uow.registry.identity("telegram", str(RESIDENT.id))
            assert ident is not None and ident.reachable


async def test_commands_map_to_help_status_and_cancel(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        start = last_with(await tg.say(RESIDENT, "/start"), RESIDENT.id)
        assert "使用方法" in start.text
        assert start.titles == ["我要报事", "我的工单", "使用帮助"]
        assert start.payloads == ["report", "status", "help"]
        status = last_with(await tg.say(RESIDENT, "/status"), RESIDENT.id)
        assert "没有进行中的工单" in status.text
        await tg.say(RESIDENT, "3幢楼上装修太吵了")
        cancelled = last_with(await tg.say(RESIDENT, "/cancel"), RESIDENT.id)
        assert "已取消" in cancelled.text


async def test_an_english_speaking_resident_is_answered_in_english(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        reply = last_with(await tg.say(ENGLISH, "/help"), ENGLISH.id)
        assert reply.text.startswith("How it works")
        assert reply.titles == ["Report a problem", "My reports", "Help"]


async def test_a_shared_location_is_mapped_to_the_nearest_building(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        # 3幢 of the demo community is at 30.2741, 120.1567
        reply = last_with(
            await tg.send(tg.updates.location(RESIDENT, 30.27413, 120.15670)), RESIDENT.id
        )
        assert "3幢附近" in reply.text
        far = last_with(await tg.send(tg.updates.location(ENGLISH, 31.23, 121.47)), ENGLISH.id)
        assert "no registered building" in far.text
        # and the building question offers Telegram's own location button
        keyboard = far.params["reply_markup"]["keyboard"]
        assert keyboard[0][0]["request_location"] is True


async def test_a_voice_message_gets_a_polite_answer(start_telegram: Any) -> None:
    async with start_telegram() as tg:
        reply = last_with(await tg.send(tg.updates.voice(RESIDENT)), RESIDENT.id)
        assert "文字、图片和位置" in reply.text


async def test_a_resident_s_photo_is_fetched_stored_and_the_worker_s_card_shows_it(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        tg.fake.add_file("stairs-large", JPEG)
        calls = await tg.send(tg.updates.photo(RESIDENT, "stairs", "2幢楼道里堆满了杂物，过不去人"))
        # only the largest size is fetched
        [get_file] = [c for c in calls if c.method == "getFile"]
        assert get_file.params["file_id"] == "stairs-large"
        reply = last_with(calls, RESIDENT.id)
        while "确认提交" not in reply.titles:
            assert "跳过" in reply.titles, reply.text
            if reply.payloads:  # an inline button
                reply = last_with(await tg.tap(RESIDENT, reply, "跳过"), RESIDENT.id)
            else:  # the phone question's reply keyboard sends the word itself
                reply = last_with(await tg.say(RESIDENT, "跳过"), RESIDENT.id)
        assert "照片：1张" in reply.text
        calls = await tg.tap(RESIDENT, reply, "确认提交")
        card = last_with(calls, WORKER.id, "sendPhoto")
        assert next(iter(card.files.values())) == JPEG
        assert card.params["parse_mode"] == "HTML" and "杂物" in card.text
        # the card is a photo: its caption changes in place
        calls = await tg.tap(WORKER, card, "接单")
        [edit] = [c for c in calls if c.method == "editMessageCaption"]
        assert "已接单" in edit.params["caption"]


async def test_a_message_stored_but_never_processed_is_answered_after_a_restart(
    start_telegram: Any,
) -> None:
    clock = FakeClock()
    async with start_telegram(clock=clock) as tg:
        # as if the process died right after the webhook stored it
        await tg.container.service.receive(
            Inbound("telegram", str(RESIDENT.id), f"{RESIDENT.id}:77", text="使用帮助")
        )
        clock.advance(minutes=2)
        assert await tg.container.service.recover() == 1
        await tg.settle()
        assert "使用方法" in last_with(tg.fake.calls, RESIDENT.id).text


async def test_phone_numbers_shared_by_contact_never_reach_the_log(start_telegram: Any) -> None:
    import io

    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream)
    try:
        async with start_telegram() as tg:
            await tg.say(RESIDENT, "3幢楼上装修太吵了")
            await tg.send(tg.updates.contact(RESIDENT, "+8613812345678"))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    output = stream.getvalue()
    assert "handled channel=telegram" in output
    assert "13812345678" not in output
    assert str(RESIDENT.id) not in output


async def test_a_photo_telegram_cannot_serve_now_is_asked_for_again_not_lost(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        tg.fake.add_file("leak-large", JPEG)
        update = tg.updates.photo(RESIDENT, "leak", "5幢楼顶漏水")
        tg.fake.fail_next("getFile", 502, "Bad Gateway")
        response = await tg.post(update)
        # nothing stored yet: a 5xx makes Telegram deliver the update again
        assert response.status_code == 503
        assert await count(tg, "inboundmessage") == 0
        calls = await tg.send(update)
        async with tg.container.store.unit() as uow:
            [row] = await uow.inbound.recent_for_user("telegram", str(RESIDENT.id))
            ref = row.payload["media"][0]["ref"]
            stored = await uow.attachments.get(int(ref.removeprefix("attachment:")))
            assert stored is not None and await uow.attachments.content(stored) == JPEG
        assert stored.content == b""  # the bytes are in the object store
        assert "几单元" in last_with(calls, RESIDENT.id).text  # the report goes on


async def test_a_photo_alone_sent_as_a_reply_to_the_card_is_a_progress_note(
    start_telegram: Any,
) -> None:
    async with start_telegram() as tg:
        await bind(tg, WORKER, "张伟")
        number = await file_noise_report(tg, RESIDENT)
        card = card_for(tg, WORKER, number)
        tg.fake.add_file("site-large", JPEG)
        calls = await tg.send(tg.updates.photo(WORKER, "site", "", reply_to=card.message_id))
        assert "进展已记录" in last_with(calls, WORKER.id).text
        photo = last_with(calls, RESIDENT.id, "sendPhoto")
        assert "见现场照片" in photo.text
        async with tg.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.status == "in_progress"
            [event] = [e for e in await uow.tickets.events(ticket.id) if e.kind == "progress"]
        assert event.data["photos"] and event.actor_name == "张伟"
