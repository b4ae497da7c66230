"""Replies longer than WeChat allows (2,048 bytes for a passive reply or a customer-service
text): cut at line and sentence ends, the first part answered passively, the rest pushed in
order through the outbox, the numbered list whole at the very end."""

from __future__ import annotations

from typing import Any

from storage.models import Ticket
from tests.bot.wechat.helpers import bind_worker, eventually, ticket_number, worker_id

WECHAT_MAX = 2048
WORKER = "oWkrLongList0000000000000001"
RESIDENT = "oRsdtLongReport00000000000001"


def size(text: str | None) -> int:
    return len((text or "").encode("utf-8"))


async def give_tasks(container: Any, worker: int, count: int) -> list[str]:
    async with container.store.unit() as uow:
        buildings = list(await uow.registry.buildings())
    numbers = [f"MH-20261207-{9000 + i:04d}" for i in range(count)]
    async with container.database.session() as session:
        for i, number in enumerate(numbers):
            building = buildings[i % len(buildings)]
            session.add(
                Ticket(
                    number=number,
                    community_id=building.community_id,
                    category="public_facility",
                    status="assigned",
                    description=f"{building.name}楼道灯不亮",
                    building_id=building.id,
                    building_name=building.name,
                    assignee_id=worker,
                )
            )
        await session.commit()
    return numbers


async def test_a_worker_listing_83_open_tasks_gets_every_line_within_the_byte_limits(
    wechat_app: Any,
) -> None:
    async with wechat_app() as w:
        await bind_worker(w.container, "张伟", WORKER)
        numbers = await give_tasks(w.container, await worker_id(w.container, "张伟"), 83)

        passive = await w.wire.say(WORKER, "任务")
        assert passive is not None and 0 < size(passive) <= WECHAT_MAX
        pushed = await eventually(
            lambda: (t := w.fake.texts_to(WORKER)) and numbers[-1] in t[-1] and t,
            what="the rest of the list",
        )
        assert len(pushed) >= 2 and all(size(p) <= WECHAT_MAX for p in pushed)
        lines = "\n".join([passive, *pushed]).split("\n")
        listed = [line for line in lines if "MH-20261207-" in line]
        # every task once, in order, each line whole (cut between lines, never inside one)
        assert [ticket_number(line) for line in listed] == numbers
        assert all("楼道灯" not in line or "MH-" in line for line in lines)


async def test_a_long_report_confirmation_keeps_its_numbered_list_together_at_the_end(
    wechat_app: Any,
) -> None:
    async with wechat_app() as w:
        description = ("5幢楼道里堆满了纸箱和旧家具，晚上看不清很容易绊倒。" * 40)[:1010]
        reply = await w.wire.say(RESIDENT, description)
        for _ in range(6):  # answer the optional questions until the confirmation
            if "【1】" in (w.fake.texts_to(RESIDENT) or [""])[-1] or "确认" in (reply or ""):
                break
            reply = await w.wire.say(RESIDENT, "跳过")
        assert reply is not None and 0 < size(reply) <= WECHAT_MAX
        assert "【1】" not in reply  # the list is not here: it ends the last part
        pushed = await eventually(
            lambda: (t := w.fake.texts_to(RESIDENT)) and "【1】" in t[-1] and t,
            what="the end of the confirmation",
        )
        assert all(size(p) <= WECHAT_MAX for p in pushed)
        last = pushed[-1]
        # the whole numbered list in one message, at its end, with the question before it
        assert "回复数字选择：\n【1】" in last and "【2】" in last
        assert last.index("回复数字选择") > 0
        assert all("【1】" not in p for p in pushed[:-1])
        # the description arrived whole, cut only after a sentence
        told = "".join([reply, *pushed]).replace("\n", "")
        assert description in told
        # "1" answers the list just shown: the report is filed
        filed = await w.wire.say(RESIDENT, "1")
        number = ticket_number(filed)
        async with w.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.description == description
