"""The call-back promise through the HTTP API: the resident is told when they will be called,
the worker records 已回电 / 联系不上 on the timeline, and a missed call-back goes up the grid."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, make_user
from tests.bot.test_chat_api import file_report, number_in
from tests.factories import FakeClock

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600}}  # the test sweeps by hand with a fake clock
PHONE = "13812345678"


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def timeline(app: Any, number: str) -> list[dict[str, Any]]:
    await make_user(app.container, "boss", "admin")
    token = await api_token(app.container, "boss")
    async with bearer(app, token) as client:
        response = await client.get(f"/api/v1/tickets/{number}")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def filed_with_reply(app: Any, user: str, text: str) -> tuple[str, str]:
    number = await file_report(app, user, text)
    async with app.container.store.unit() as uow:
        inbound = await uow.inbound.with_status("done", limit=100)
    created = [r["text"] for row in inbound for r in row.replies if number in r.get("text", "")]
    return number, created[-1]


async def test_the_resident_is_told_when_the_worker_will_call_back(start_app: Any) -> None:
    clock = FakeClock()  # 2026-11-22 09:00 UTC = 17:00 in Hangzhou
    async with start_app(clock=clock, **QUIET) as app:
        number, called = await filed_with_reply(app, "r-cb", f"6幢楼道灯不亮，电话{PHONE}")
        assert "网格员会在17:10前（10分钟内）给您回电，请留意来电。" in called
        card = await app.inbox("worker-li", expect=1)
        assert "请于 11-22 17:10 前回电居民" in card[0]["text"]
        assert f"called:{number}" in [b["payload"] for b in card[0]["buttons"]]


async def test_without_a_phone_nothing_promises_a_call_and_nobody_is_chased_for_one(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        number, created = await filed_with_reply(app, "r-cb", "6幢楼道灯不亮，晚上很黑")
        assert "网格员会尽快联系您。" in created and "回电" not in created
        [card] = await app.inbox("worker-li", expect=1)
        assert "前回电居民" not in card["text"]
        assert f"called:{number}" not in [b["payload"] for b in card["buttons"]]
        clock.advance(minutes=10)
        await app.container.sweeper.run_once()
        assert await app.inbox("leader-chen", expect=1, wait=0.5) == []
        events = await timeline(app, number)
        assert not any(e["kind"] == "callback_overdue" for e in events)


async def test_a_phone_left_after_an_urgent_report_starts_the_call_back_from_then(
    start_app: Any,
) -> None:
    clock = FakeClock()
    # a call-back promise shorter than the urgent 10-minute accept clock, so it has its own clock
    async with start_app(clock=clock, sla={"sweep_seconds": 3600, "callback_minutes": 5}) as app:
        replies = await app.say("r-cb", "6幢电梯坏了，有人被困在里面")
        number = number_in(replies)
        assert "手机号" in texts(replies)
        await app.inbox("worker-li", expect=1)
        clock.advance(minutes=3)
        added = await app.say("r-cb", PHONE)
        assert added[0]["text"].startswith(f"电话已补充到工单 {number}")
        [pushed] = await app.inbox("worker-li", expect=1)
        assert pushed["text"] == (
            f"工单 {number} 居民补充了联系电话：{PHONE}\n请于 11-22 17:08 前回电居民"
        )
        assert f"called:{number}" in [b["payload"] for b in pushed["buttons"]]
        clock.advance(minutes=5)
        await app.container.sweeper.run_once()
        leader = texts(await app.inbox("leader-chen", expect=9, wait=0.5))
        overdue = f"【回电督办】{number} 超过5分钟仍未回电居民（负责人：李娜，电话：{PHONE}）"
        assert overdue in leader


async def test_called_back_is_recorded_on_the_timeline_and_stops_the_clock(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        number = await file_report(app, "r-cb", f"6幢楼道灯不亮，电话{PHONE}")
        await app.inbox("worker-li", expect=1)
        clock.advance(minutes=4)
        done = await app.say("worker-li", button=f"called:{number}")
        assert done[0]["text"] == f"已记录：17:04 已回电居民（工单 {number}）。"
        clock.advance(minutes=30)
        await app.container.sweeper.run_once()
        assert await app.inbox("leader-chen", expect=1, wait=0.5) == []
        events = await timeline(app, number)
        called = [e for e in events if e["kind"] == "callback"]
        assert len(called) == 1
        assert called[0]["kind_label"] == "回电" and called[0]["note"] == "17:04 已回电居民"
        assert called[0]["actor_name"] == "李娜" and called[0]["data"]["outcome"] == "reached"
        assert not any(e["kind"] == "callback_overdue" for e in events)


async def test_an_unanswered_call_is_recorded_and_the_resident_told(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        number = await file_report(app, "r-cb", f"6幢楼道灯不亮，电话{PHONE}")
        await app.inbox("r-cb", expect=0, wait=0.2)
        clock.advance(minutes=2)
        done = await app.say("worker-li", f"联系不上 {number}")
        assert "17:02 回电未接通" in done[0]["text"]
        told = await app.inbox("r-cb", expect=1)
        assert f"网格员李娜于17:02给您回电未接通（工单 {number}）" in texts(told)
        events = await timeline(app, number)
        assert [e["data"].get("outcome") for e in events if e["kind"] == "callback"] == [
            "unreachable"
        ]


async def test_no_call_back_in_ten_minutes_goes_to_the_leader_then_to_staff(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        number = await file_report(app, "r-cb", f"6幢楼道灯不亮，电话{PHONE}")
        await app.inbox("worker-li", expect=1)
        clock.advance(minutes=9)
        await app.container.sweeper.run_once()
        assert await app.inbox("leader-chen", expect=1, wait=0.3) == []  # not before the time
        clock.advance(minutes=1)
        await app.container.sweeper.run_once()
        leader = await app.inbox("leader-chen", expect=1)
        assert f"【回电督办】{number} 超过10分钟仍未回电居民（负责人：李娜" in texts(leader)
        worker = await app.inbox("worker-li", expect=1)
        assert "已超过10分钟未回电居民，已上报网格长陈静" in texts(worker)
        assert [b["payload"] for b in worker[-1]["buttons"]][:3] == [
            f"accept:{number}",
            f"called:{number}",
            f"unreachable:{number}",
        ]
        clock.advance(minutes=10)
        await app.container.sweeper.run_once()
        staff = await app.inbox("staff-liu", expect=1)
        assert f"【回电督办】{number}" in texts(staff)
        events = await timeline(app, number)
        overdue = [e for e in events if e["kind"] == "callback_overdue"]
        assert [e["data"]["level"] for e in overdue] == [1, 2]
        assert overdue[0]["kind_label"] == "回电超时督办"
        # the ticket keeps its status: the call-back is a promise, not a step of the work
        assert events[-1]["to_status"] == "assigned"


async def test_the_call_back_target_is_configurable(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, sla={"sweep_seconds": 3600, "callback_minutes": 30}) as app:
        _, created = await filed_with_reply(app, "r-cb", f"6幢楼道灯不亮，电话{PHONE}")
        assert "网格员会在17:30前（30分钟内）给您回电" in created
