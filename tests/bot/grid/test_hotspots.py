"""Hotspots through the HTTP API: the alert comes at the threshold and not before, reaches
the grid leader and community staff, shows in GET /api/v1/hotspots, and one note answers
every open ticket of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, make_user
from tests.bot.test_chat_api import file_report
from tests.bot.test_lifecycle_e2e import numbers, submit, texts
from tests.factories import FakeClock

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600, "callback_minutes": 0}}


async def admin_client(app: Any) -> Any:
    await make_user(app.container, "boss", "admin")
    return bearer(app, await api_token(app.container, "boss"))


async def test_three_reports_in_a_building_alert_the_leader_and_staff_once(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        first = await file_report(app, "r-a", "6幢电梯按钮坏了，按了没反应")
        clock.advance(hours=1)
        await submit(app, "r-b", "6号楼电梯又坏了")
        [second] = numbers(texts(await app.say("r-b", button="dup:new")))
        assert await app.inbox("leader-chen", expect=1, wait=0.5) == []  # 2 reports: not yet
        clock.advance(hours=1)
        await submit(app, "r-c", "6号楼的电梯坏了")
        await app.say("r-c", button="dup:follow")  # the third report, as a follower
        leader = await app.inbox("leader-chen", expect=1)
        alert = f"【热点预警】6幢 24小时内已有3次居民反映“电梯故障”：{first}、{second}。"
        assert any(m["text"].startswith(alert) for m in leader), leader
        staff = await app.inbox("staff-liu", expect=1)
        assert any(m["text"].startswith(alert) for m in staff)
        # a fourth report grows the hotspot without a second alert
        clock.advance(hours=1)
        await submit(app, "r-d", "6幢电梯还是坏的")
        await app.say("r-d", button="dup:follow")
        assert not any("热点预警" in m["text"] for m in await app.inbox("leader-chen", wait=0.5))

        async with await admin_client(app) as client:
            listed = await client.get("/api/v1/hotspots")
            assert listed.status_code == 200
            [spot] = listed.json()
            assert (spot["rule"], spot["place"], spot["category"], spot["count"]) == (
                "building",
                "6幢",
                "elevator",
                4,
            )
            assert spot["numbers"] == [first, second]
            assert set(spot["alerted"]) == {"陈静", "刘洋"}

            together = await client.post(
                f"/api/v1/hotspots/{spot['id']}/notes",
                json={"note": "已联系电梯维保，今天下午修复"},
            )
            assert together.status_code == 200, together.text
            assert together.json() == {"told": [first, second], "skipped": []}
        for user in ("r-a", "r-b", "r-c"):
            got = await app.inbox(user, expect=1)
            assert any("今天下午修复" in m["text"] for m in got), (user, got)


async def test_reports_spread_over_more_than_a_day_make_no_hotspot(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        await file_report(app, "r-a", "6幢电梯按钮坏了")
        clock.advance(hours=13)
        await submit(app, "r-b", "6号楼电梯又坏了")
        await app.say("r-b", button="dup:new")
        clock.advance(hours=13)
        await submit(app, "r-c", "6号楼的电梯坏了")
        await app.say("r-c", button="dup:new")
        assert not any("热点预警" in m["text"] for m in await app.inbox("leader-chen", wait=0.5))
        async with await admin_client(app) as client:
            assert (await client.get("/api/v1/hotspots")).json() == []
            recurring = await client.get("/api/v1/hotspots/recurring")
            assert recurring.json() == [
                {
                    "building_id": recurring.json()[0]["building_id"],
                    "building": "6幢",
                    "category": "elevator",
                    "category_label": "电梯故障",
                    "count": 3,
                }
            ]
            anonymous = await app.client.get("/api/v1/hotspots")
            assert anonymous.status_code == 401
