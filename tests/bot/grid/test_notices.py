"""Notices through the HTTP API: published to a place, delivered to exactly its residents in
their own chat, counted; outage questions answered from them; a matching report held with
[仍要报事]; residents turn notices off; staff publish in chat."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, make_user
from tests.bot.test_chat_api import file_report
from tests.factories import FakeClock

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600}}
TOMORROW = {"starts_at": "2026-11-23T09:00:00+08:00", "ends_at": "2026-11-23T17:00:00+08:00"}


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def ids(app: Any) -> dict[str, int]:
    async with app.container.store.unit() as uow:
        found = {b.name: b.id for b in await uow.registry.buildings()}
        found.update({g.name: g.id for g in await uow.registry.grids()})
        found["community"] = (await uow.registry.communities())[0].id
    return found


async def settle(app: Any, residents: list[str]) -> None:
    """File a report from each resident's building (their home from then on), drain chats."""
    problems = ("楼道灯不亮", "门口垃圾没人清", "楼下车堵了消防通道", "楼道里堆满杂物")
    for user, problem in zip(residents, problems, strict=False):
        building = user.split("-")[1].rstrip("ab") + "幢"
        await file_report(app, user, f"{building}{problem}", building=building)
    for user in (*residents, "worker-li", "worker-wang"):
        await app.inbox(user, expect=99, wait=0.3)


async def staff_client(app: Any) -> Any:
    place = await ids(app)
    await make_user(app.container, "staff-api", "community_staff", community_id=place["community"])
    return bearer(app, await api_token(app.container, "staff-api"))


async def test_a_building_notice_reaches_exactly_its_residents_and_is_counted(
    start_app: Any,
) -> None:
    clock = FakeClock()  # 2026-11-22 17:00 in Hangzhou
    async with start_app(clock=clock, **QUIET) as app:
        await settle(app, ["r-5a", "r-5b", "r-6", "r-9"])
        place = await ids(app)
        async with await staff_client(app) as client:
            created = await client.post(
                "/api/v1/notices",
                json={
                    "scope": {"building": place["5幢"]},
                    "text": "因管道维修停水，请提前储水",
                    "category": "停水",
                    **TOMORROW,
                },
            )
            assert created.status_code == 201, created.text
            body = created.json()
            assert body["recipients"] == 2 and body["unreachable"] == 0
            assert body["scope_name"] == "阳光花园社区 5幢"
            for user in ("r-5a", "r-5b"):
                got = await app.inbox(user, expect=1)
                assert texts(got) == (
                    "【社区通知·停水】阳光花园社区 5幢 明天09:00–17:00【停水】因管道维修停水，"
                    "请提前储水\n（回复“关闭通知”可不再接收通知）"
                )
            for user in ("r-6", "r-9"):
                assert await app.inbox(user, expect=1, wait=0.5) == []
            listed = await client.get("/api/v1/notices", params={"building": place["5幢"]})
            [row] = listed.json()
            assert (row["id"], row["category"], row["recipients"]) == (body["id"], "water", 2)
            assert row["sent"] == 2 and row["failed"] == 0
            other = await client.get("/api/v1/notices", params={"building": place["9幢"]})
            assert other.json() == []


async def test_a_grid_notice_reaches_its_buildings_and_opted_out_residents_are_skipped(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        await settle(app, ["r-5a", "r-6", "r-9"])
        off = await app.say("r-6", "关闭通知")
        assert off[0]["text"] == "已为您关闭社区通知。回复“开启通知”可重新接收。"
        place = await ids(app)
        async with await staff_client(app) as client:
            created = await client.post(
                "/api/v1/notices",
                json={"scope": {"grid": place["第二网格"]}, "text": "周六上午电梯检修", **TOMORROW},
            )
            body = created.json()
            assert (body["recipients"], body["opted_out"]) == (1, 1)
            assert "【社区通知·电梯检修】" in texts(await app.inbox("r-5a", expect=1))
            assert await app.inbox("r-6", expect=1, wait=0.5) == []
            assert await app.inbox("r-9", expect=1, wait=0.1) == []
            on = await app.say("r-6", "开启通知")
            assert "已为您开启社区通知" in on[0]["text"]
            community = await client.post(
                "/api/v1/notices",
                json={"scope": {"community": place["community"]}, "text": "台风天请收好阳台物品"},
            )
            assert community.json()["recipients"] == 3
            page = await client.get("/api/v1/notices")
            assert [n["category"] for n in page.json()] == ["safety", "elevator"]


async def test_outage_questions_are_answered_and_a_matching_report_is_held(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        await settle(app, ["r-5a", "r-9"])
        place = await ids(app)
        async with await staff_client(app) as client:
            await client.post(
                "/api/v1/notices",
                json={"scope": {"building": place["5幢"]}, "text": "管道维修停水", **TOMORROW},
            )
        answer = await app.say("r-5a", "最近小区有没有停水通知？")
        assert answer[0]["text"] == (
            "目前有以下通知：\n· 阳光花园社区 5幢 明天09:00–17:00【停水】管道维修停水\n"
            "如遇到通知以外的问题，直接告诉我即可报事。"
        )
        none = await app.say("r-9", "最近小区有没有停水通知？")
        assert none[0]["text"].startswith("目前您所在的楼栋和小区没有停水、停电等通知")

        async with app.container.store.unit() as uow:
            before = len(await uow.tickets.search())
        held = await app.say("r-5a", "家里停水了，一滴水都没有")
        assert held[-1]["text"].startswith("这可能是已通知的计划安排：\n· 阳光花园社区 5幢")
        assert [b["payload"] for b in held[-1]["buttons"]] == ["notice:report", "notice:ok"]
        ok = await app.say("r-5a", button="notice:ok")
        assert ok[0]["text"].startswith("好的。通知时间过后仍未恢复")
        held = await app.say("r-5a", "家里停水了，一滴水都没有")
        resumed = await app.say("r-5a", button="notice:report")
        assert "notice:report" not in [b["payload"] for r in resumed for b in r["buttons"]]
        assert resumed[-1]["buttons"], resumed  # the report form goes on
        async with app.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == before  # nothing filed blindly


async def test_a_building_named_in_the_message_is_the_one_answered_for(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        await settle(app, ["r-9"])  # home: 9幢
        place = await ids(app)
        async with await staff_client(app) as client:
            await client.post(
                "/api/v1/notices",
                json={"scope": {"building": place["5幢"]}, "text": "管道维修停水", **TOMORROW},
            )
        notice = "· 阳光花园社区 5幢 明天09:00–17:00【停水】管道维修停水"
        for user in ("r-new", "r-9"):  # no home yet; a home elsewhere
            answer = await app.say(user, "5幢最近有没有停水通知？")
            assert answer[0]["text"] == (
                f"阳光花园社区5幢目前有以下通知：\n{notice}\n"
                "如遇到通知以外的问题，直接告诉我即可报事。"
            )
        none = await app.say("r-new", "9幢最近有没有停水通知？")
        assert none[0]["text"].startswith("目前阳光花园社区9幢及所在小区没有停水、停电等通知")

        # a report from the named building that the notice explains is held first
        async with app.container.store.unit() as uow:
            before = len(await uow.tickets.search())
        held = await app.say("r-new", "5幢家里停水了")
        assert held[-1]["text"] == (
            f"这可能是已通知的计划安排：\n{notice}\n"
            "如果不是这个原因，或超出通知时间仍未恢复，请点“仍要报事”。"
        )
        assert [b["payload"] for b in held[-1]["buttons"]] == ["notice:report", "notice:ok"]
        async with app.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == before


async def test_staff_publish_in_chat_and_a_grid_worker_cannot(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        await settle(app, ["r-5a", "r-6"])
        done = await app.say("staff-liu", "通知 5幢 明天9:00-17:00停水，请提前储水")
        assert done[0]["text"] == ("已发布通知 #1（停水，阳光花园社区 5幢）：发送给 1 位居民。")
        got = await app.inbox("r-5a", expect=1)
        assert "5幢 明天09:00–17:00【停水】明天9:00-17:00停水，请提前储水" in texts(got)
        refused = await app.say("worker-li", "通知 5幢 明天停电")
        assert refused[0]["text"].startswith("只有网格长或社区工作人员可以发布通知")
        unknown = await app.say("staff-liu", "通知 99幢 明天停电")
        assert unknown[0]["text"].startswith("没有找到“99幢”")


async def test_bad_notices_are_refused_with_a_reason(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        place = await ids(app)
        async with await staff_client(app) as client:
            bad_scope = await client.post(
                "/api/v1/notices", json={"scope": {"planet": 1}, "text": "x"}
            )
            assert bad_scope.status_code == 422 and "scope" in bad_scope.json()["error"]
            missing = await client.post(
                "/api/v1/notices", json={"scope": {"building": 9999}, "text": "停水"}
            )
            assert missing.status_code == 422 and "9999" in missing.json()["error"]
            street = await client.post(
                "/api/v1/notices", json={"scope": {"street": "西溪街道"}, "text": "停电"}
            )
            assert street.status_code == 403 and "西溪街道" in street.json()["error"]
            backwards = await client.post(
                "/api/v1/notices",
                json={
                    "scope": {"building": place["5幢"]},
                    "text": "停水",
                    "starts_at": "2026-12-09T17:00:00+08:00",
                    "ends_at": "2026-12-09T09:00:00+08:00",
                },
            )
            assert backwards.status_code == 422
            assert backwards.json()["error"] == "结束时间必须晚于开始时间"
            anonymous = await app.client.get("/api/v1/notices")
            assert anonymous.status_code == 401
