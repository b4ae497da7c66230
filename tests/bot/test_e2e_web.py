"""The whole loop through the public HTTP API, on the embedded backend and on PostgreSQL+Redis."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


def ticket_number(text: str) -> str:
    match = re.search(r"MH-\d{8}-\d{4}", text)
    assert match, f"no ticket number in: {text}"
    return match.group()


async def test_urgent_elevator_report_is_routed_handled_and_rated_when_resident_and_worker_chat(
    start_app: Any,
) -> None:
    async with start_app() as app:
        resident, worker = "resident-e2e", "worker-zhang"  # 张伟 covers 第一网格 (1–4幢)

        replies = await app.say(resident, "3幢电梯坏了，有人被困在里面")
        body = texts(replies)
        number = ticket_number(body)
        assert "96333" in body  # urgent advice before anything else
        assert "张伟" in body and "10分钟" in body
        # urgent: filed at once, then asked for a phone to call back
        assert "手机号" in replies[-1]["text"]
        await app.say(resident, "13812345678")

        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            assert (ticket.category, ticket.priority, ticket.status) == (
                "elevator",
                "urgent",
                "assigned",
            )
            assert ticket.building_name == "3幢"
            assert ticket.contact_phone == "13812345678"

        task = await app.inbox(worker, expect=2)
        assert number in task[0]["text"] and "【紧急】" in task[0]["text"]
        assert {b["title"] for b in task[0]["buttons"]} >= {"接单", "进展", "办结", "转派"}

        accepted = await app.say(worker, f"接单 {number}")
        assert "已接单" in accepted[0]["text"] and "13812345678" in accepted[0]["text"]
        progress = await app.say(worker, "进展 已联系电梯维保公司，人已救出，正在检修")
        assert "进展已记录" in progress[0]["text"]
        done = await app.say(worker, f"办结 {number} 更换了门机板，电梯已恢复运行")
        assert "已办结" in done[0]["text"]

        updates = await app.inbox(resident, expect=3)
        assert len(updates) == 3
        assert "张伟接单" in updates[0]["text"]
        assert "人已救出" in updates[1]["text"]
        assert "电梯已恢复运行" in updates[2]["text"]
        assert updates[2]["buttons"][0]["payload"] == f"rate:{number}:5"

        thanks = await app.say(resident, button=f"rate:{number}:5")
        assert "5星" in thanks[0]["text"] and "已关闭" in thanks[0]["text"]

        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.status == "closed" and ticket.rating == 5
            kinds = [e.kind for e in await uow.tickets.events(ticket.id)]
        assert kinds == [
            "created",
            "assign",
            "contact_added",
            "accept",
            "progress",
            "resolve",
            "rate",
        ]
        rated = await app.inbox(worker, expect=2)
        assert any("5星" in m["text"] for m in rated)
