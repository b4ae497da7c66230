"""Pushed messages on WeChat: the 48-hour window, template messages, error codes, workers."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.messages import Button, Outbound
from handlers.service import outbound_to_dict
from tests.bot.wechat.helpers import bind_worker, eventually, ticket_number
from tests.factories import FakeClock

RESIDENT = "oDlvRes00000000000000000001"
WORKER = "oDlvWkr00000000000000000001"


async def push(container: Any, openid: str, message: Outbound, worker_id: int | None = None) -> int:
    """Queue a message the way the service does (outbox, same transaction as the change)."""
    async with container.store.unit() as uow:
        item = await uow.outbox.enqueue(
            "wechat",
            openid,
            outbound_to_dict(message),
            now=container.clock.now(),
            worker_id=worker_id,
        )
    container.dispatcher.kick()
    return int(item.id)


async def outbox_item(container: Any, item_id: int) -> Any:
    async with container.store.unit() as uow:
        return await uow.outbox.get(item_id)


async def settled(container: Any, item_id: int, status: str) -> Any:
    """Wait until the dispatcher attempted the item and left it in ``status``."""
    for _ in range(100):
        item = await outbox_item(container, item_id)
        if item.status == status and item.attempts >= 1:
            return item
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox item {item_id} never became {status}: {item}")


PROGRESS = Outbound(
    text="工单 MH-20261122-0001 有新进展：已联系电梯维保公司",
    kind="progress",
    data={"number": "MH-20261122-0001", "status_text": "处理中", "category": "电梯故障"},
)


async def test_updates_go_as_customer_service_messages_inside_48_hours_and_templates_after(
    wechat_app: Any,
) -> None:
    clock = FakeClock()
    async with wechat_app(clock=clock) as w:
        await w.wire.say(RESIDENT, "你好")  # opens the 48-hour window
        first = await push(w.container, RESIDENT, PROGRESS)
        assert (await settled(w.container, first, "sent")).status == "sent"
        assert w.fake.texts_to(RESIDENT) == [PROGRESS.text]

        clock.advance(hours=49)
        second = await push(w.container, RESIDENT, PROGRESS)
        item = await settled(w.container, second, "sent")
        assert item.platform_message_id  # WeChat's msgid of the template message
        [template] = w.fake.templates_to(RESIDENT)
        assert template["template_id"] == "TPL_PROGRESS_x1Y2z3"
        assert template["data"]["keyword1"]["value"] == "MH-20261122-0001"
        assert template["data"]["keyword2"]["value"] == "处理中"
        assert template["data"]["first"]["value"].startswith("工单 MH-20261122-0001 有新进展")
        assert len(w.fake.texts_to(RESIDENT)) == 1


async def test_a_rating_request_after_48_hours_is_a_template_and_a_reply_of_5_rates_five_stars(
    wechat_app: Any,
) -> None:
    clock = FakeClock()
    async with wechat_app(clock=clock) as w:
        number = ticket_number(await w.wire.say(RESIDENT, "3幢电梯坏了，有人被困在里面"))
        async with w.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            ticket.status = "resolved"
            await uow.tickets.save(ticket)
        clock.advance(hours=50)
        from handlers.notices import TicketFacts, resident_update

        facts = TicketFacts(number, "elevator", "urgent", "resolved", "电梯困人")
        item = await push(w.container, RESIDENT, resident_update("resolved", facts, note="已修好"))
        await settled(w.container, item, "sent")
        [template] = w.fake.templates_to(RESIDENT)
        assert "【5】★★★★★" in template["data"]["remark"]["value"]
        thanks = await w.wire.say(RESIDENT, "5")
        assert thanks is not None and "5星" in thanks


async def test_an_expired_token_is_refreshed_and_the_message_delivered_once(
    wechat_app: Any,
) -> None:
    async with wechat_app() as w:
        await w.wire.say(RESIDENT, "你好")
        await w.container.extras["wechat"].api.access_token()
        w.fake.expire_token()
        item = await push(w.container, RESIDENT, PROGRESS)
        assert (await settled(w.container, item, "sent")).attempts == 1
        assert w.fake.texts_to(RESIDENT) == [PROGRESS.text]
        assert w.fake.token_fetches == 2 and w.fake.forced_refreshes == 0


async def test_rate_limits_are_retried_later_not_dropped(wechat_app: Any) -> None:
    clock = FakeClock()
    async with wechat_app(clock=clock) as w:
        await w.wire.say(RESIDENT, "你好")
        w.fake.fail_next("custom", 45009)
        item_id = await push(w.container, RESIDENT, PROGRESS)
        item = await settled(w.container, item_id, "pending")
        assert item.status == "pending" and item.attempts == 1 and "45009" in item.last_error
        assert (item.next_try_at - clock.now()).total_seconds() >= 500  # backed off
        assert w.fake.texts_to(RESIDENT) == []
        clock.advance(minutes=11)
        w.container.dispatcher.kick()
        assert (await settled(w.container, item_id, "sent")).status == "sent"
        assert w.fake.texts_to(RESIDENT) == [PROGRESS.text]


async def test_a_closed_window_reported_by_wechat_falls_back_to_a_template(wechat_app: Any) -> None:
    async with wechat_app() as w:
        await w.wire.say(RESIDENT, "你好")
        w.fake.fail_next("custom", 45015)
        item = await push(w.container, RESIDENT, PROGRESS)
        assert (await settled(w.container, item, "sent")).status == "sent"
        assert len(w.fake.templates_to(RESIDENT)) == 1


async def test_without_a_template_a_closed_window_makes_the_user_unreachable(
    wechat_app: Any,
) -> None:
    clock = FakeClock()
    async with wechat_app(clock=clock, template_progress="") as w:
        await w.wire.say(RESIDENT, "你好")
        clock.advance(hours=49)
        item = await settled(w.container, await push(w.container, RESIDENT, PROGRESS), "dead")
        assert "48-hour" in item.last_error
        assert w.fake.custom == [] and w.fake.templates == []


async def test_an_unsubscribed_user_is_not_retried(wechat_app: Any) -> None:
    async with wechat_app() as w:
        await w.wire.say(RESIDENT, "你好")
        w.fake.fail_next("custom", 43004)
        item = await settled(w.container, await push(w.container, RESIDENT, PROGRESS), "dead")
        assert item.attempts == 1 and "43004" in item.last_error
        async with w.container.store.unit() as uow:
            ident = await uow.registry.identity("wechat", RESIDENT)
        assert ident is not None and ident.reachable is False
        # nothing more is even attempted until they follow again
        again = await settled(w.container, await push(w.container, RESIDENT, PROGRESS), "dead")
        assert "unsubscribed" in again.last_error and w.fake.custom == []


async def test_a_worker_who_blocked_the_account_gets_the_task_on_the_next_channel(
    wechat_app: Any,
) -> None:
    async with wechat_app() as w:
        ident = await bind_worker(w.container, "张伟", WORKER)
        w.fake.fail_next("template", 43019)
        card = Outbound(
            text="【新任务】MH-20261122-0009 电梯故障",
            buttons=(Button("接单", "accept:MH-20261122-0009"),),
            kind="task_card",
            data={"number": "MH-20261122-0009"},
        )
        item = await settled(w.container, await push(w.container, WORKER, card, ident), "dead")
        assert "43019" in item.last_error
        # the worker's web chat (the demo's other channel) gets it instead
        response = await eventually_inbox(w, "worker-zhang")
        assert "MH-20261122-0009" in response[0]["text"]


async def eventually_inbox(w: Any, user: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for _ in range(50):
        response = await w.app.client.get("/api/v1/messages", params={"user_id": user})
        got += response.json()["messages"]
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError("nothing arrived")


async def test_a_worker_in_the_window_gets_task_text_with_its_photo_and_acts_by_number(
    wechat_app: Any,
) -> None:
    async with wechat_app(template_task="") as w:
        await bind_worker(w.container, "张伟", WORKER)
        await w.wire.say(WORKER, "任务")  # the worker wrote: the window is open
        w.fake.media["MEDIA_car"] = (b"\xff\xd8\xff\xe0" + b"\x22" * 4000, "image/jpeg")
        resident = "oDlvRes00000000000000000002"
        await w.wire.send("image", openid=resident, media_id="MEDIA_car")
        reply = await w.wire.say(resident, "3幢电梯里有人被困")
        number = ticket_number(reply)

        texts = await eventually(
            lambda: [t for t in w.fake.texts_to(WORKER) if number in t], what="task card"
        )
        assert "【1】接单" in texts[0] and "【2】进展" in texts[0]
        # the photo follows the text as an image message (uploaded as temporary media)
        images = await eventually(
            lambda: [m for m in w.fake.custom if m["touser"] == WORKER and m["msgtype"] == "image"],
            what="the photo",
        )
        assert len(images) == 1 and len(w.fake.uploads) == 1
        assert "已接单" in (await w.wire.say(WORKER, "1") or "")
        # "2" is now the second choice of the reply just shown (its buttons start at 进展)
        asked = await w.wire.say(WORKER, "2")
        assert asked is not None and "办结" in asked
