"""随手拍 through the HTTP API: a worker's patrol report becomes their own accepted ticket,
marked as found on patrol; a resident's words are not mistaken for it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, make_user

pytestmark = pytest.mark.slow


async def test_a_patrol_report_is_filed_assigned_to_the_worker_and_accepted(
    start_app: Any,
) -> None:
    async with start_app() as app:
        done = await app.say("worker-li", "随手拍 5幢 楼道堆放杂物，堵住了消防通道")
        number = re.findall(r"MH-\d{8}-\d{4}", done[0]["text"])[0]
        assert done[0]["text"].startswith(f"已登记随手拍 {number}（")
        assert "，5幢），已派给您本人并接单" in done[0]["text"]
        # the reply is the worker's card: no second "new task" card asking to accept it
        pushed = await app.inbox("worker-li", wait=2.0)
        assert not [m for m in pushed if number in m["text"]], pushed
        await make_user(app.container, "boss", "admin")
        async with bearer(app, await api_token(app.container, "boss")) as client:
            detail = (await client.get(f"/api/v1/tickets/{number}")).json()
        assert detail["status"] == "accepted" and detail["assignee"]["name"] == "李娜"
        assert detail["extra"]["source"] == "patrol" and detail["building"] == "5幢"
        created = detail["events"][0]
        assert created["note"] == "随手拍：楼道堆放杂物，堵住了消防通道"
        assert created["actor_name"] == "李娜"
        finished = await app.say("worker-li", f"办结 {number} 已清理")
        assert number in finished[0]["text"]


async def test_a_patrol_report_without_a_place_gets_the_usage(start_app: Any) -> None:
    async with start_app() as app:
        usage = await app.say("worker-li", "随手拍")
        assert usage[0]["text"].startswith("随手拍用法")
