"""The ticket lifecycle through the public HTTP API, on the embedded backend and on
PostgreSQL + Redis: duplicates, following, merging, departments, adding to a ticket, SLA
escalation and unrated closing (injected clock), Open311, and two apps on one database."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import pytest

from handlers.lifecycle import Actor
from handlers.open311 import REQUEST_FIELDS, REQUEST_REQUIRED, SERVICE_FIELDS, SERVICE_REQUIRED
from tests.bot.test_chat_api import file_report
from tests.factories import FakeClock

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600}}  # the test sweeps by hand with a fake clock
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


def numbers(text: str) -> list[str]:
    return re.findall(r"MH-\d{8}-\d{4}", text)


async def submit(app: Any, user: str, text: str, building: str = "6号楼") -> list[dict[str, Any]]:
    """Fill a normal report's form and press 确认提交; returns the replies to that."""
    replies = await app.say(user, text)
    for _ in range(8):
        payloads = [b["payload"] for b in replies[-1]["buttons"]]
        if "confirm" in payloads:
            return await app.say(user, button="confirm")
        if "哪一幢" in replies[-1]["text"]:
            replies = await app.say(user, building)
        elif "skip" in payloads:
            replies = await app.say(user, button="skip")
        else:
            raise AssertionError(f"unexpected question: {replies[-1]}")
    raise AssertionError("form did not finish")


async def ticket_row(app: Any, number: str) -> Any:
    async with app.container.store.unit() as uow:
        ticket = await uow.tickets.by_number(number)
        assert ticket is not None
        return ticket


async def event_kinds(app: Any, number: str) -> list[str]:
    return [e.kind for e in await app.container.service.tickets.timeline(number)]


async def test_a_repeated_report_is_offered_and_following_brings_every_update(
    start_app: Any,
) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-first", "6幢电梯按钮坏了，按了没反应")
        replies = await submit(app, "r-second", "6号楼电梯又坏了")
        offer = replies[-1]
        assert offer["text"] == (
            f"已有相同问题在处理中（工单 {number}，已派给网格员，等待接单），为您关注进度？"
        )
        assert [b["payload"] for b in offer["buttons"]] == ["dup:follow", "dup:new"]

        followed = await app.say("r-second", button="dup:follow")
        assert f"已为您关注工单 {number}" in followed[0]["text"]
        async with app.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == 1
        worker = await app.inbox("worker-li", expect=2)
        assert any("又有居民反映了同一问题（共2位居民关注）" in m["text"] for m in worker)

        await app.say("worker-li", f"接单 {number}")
        await app.say("worker-li", f"进展 {number} 已通知电梯维保，下午到场")
        await app.say("worker-li", f"办结 {number} 更换了按钮板")
        reporter = await app.inbox("r-first", expect=3)
        follower = await app.inbox("r-second", expect=3)
        assert "下午到场" in texts(reporter) and "下午到场" in texts(follower)
        assert reporter[-1]["buttons"][0]["payload"] == f"rate:{number}:5"  # only they rate
        assert follower[-1]["text"].startswith("您关注的问题") and follower[-1]["buttons"] == []

        status = await app.say("r-second", "我的工单")
        assert "您目前没有进行中的工单" in status[0]["text"]  # resolved: not open any more


async def test_declining_the_offer_files_a_ticket_marked_as_a_possible_duplicate(
    start_app: Any,
) -> None:
    async with start_app() as app:
        first = await file_report(app, "r-a", "6幢电梯坏了")
        await submit(app, "r-b", "6号楼电梯坏了，困了半天")
        filed = await app.say("r-b", button="dup:new")
        [second] = numbers(texts(filed))
        assert second != first and "已受理" in filed[0]["text"]
        cards = await app.inbox("worker-li", expect=2)
        assert any(second in m["text"] and f"可能与 {first} 为同一问题" in m["text"] for m in cards)
        ticket = await ticket_row(app, second)
        assert ticket.extra["possible_duplicate_of"] == first


async def test_merging_keeps_the_merged_tickets_reporter_and_followers_informed(
    start_app: Any,
) -> None:
    async with start_app() as app:
        kept = await file_report(app, "r-a", "7幢垃圾桶满了好几天没人清", building="7幢")
        merged = await file_report(app, "r-b", "8幢垃圾桶满了", building="8幢")
        await submit(app, "r-c", "8号楼的垃圾没人清", building="8幢")
        await app.say("r-c", button="dup:follow")  # r-c follows the 8幢 ticket

        done = await app.say("staff-liu", f"合并 {merged} {kept}")
        assert f"已将工单 {merged} 并入 {kept}" in done[0]["text"]
        for user in ("r-b", "r-c"):
            got = await app.inbox(user, expect=1)
            assert any(f"与工单 {kept} 是同一问题" in m["text"] for m in got)

        await app.say("worker-li", f"进展 {kept} 已安排保洁今天清运")  # accepts it, too
        for user in ("r-a", "r-b", "r-c"):
            got = await app.inbox(user, expect=2)
            assert any("今天清运" in m["text"] for m in got), user
        assert (await ticket_row(app, merged)).status == "merged"
        followers = {f.user_id for f in await app.container.service.tickets.followers(kept)}
        assert followers == {"r-b", "r-c"}
        assert (await event_kinds(app, kept))[-3:] == ["merge_in", "accept", "progress"]
        not_staff = await app.say("worker-li", f"合并 {kept} {merged}")
        assert "只有网格长或社区工作人员" in not_staff[0]["text"]


async def test_a_department_takes_a_ticket_and_its_replies_reach_the_worker_and_resident(
    start_app: Any,
) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-d", "6幢门口有辆车堵住了消防通道")
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number, for_update=True)
            assert ticket is not None
            ticket.contact_phone = "13912345678"
            await uow.tickets.save(ticket)
        await app.inbox("worker-li", expect=1)

        options = await app.say("worker-li", f"移交 {number}")
        assert options[0]["buttons"][0]["title"] == "交警中队"  # parking's usual party first
        handed = await app.say("worker-li", f"移交 {number} 交警")
        assert "已将工单" in handed[0]["text"] and "交警中队" in handed[0]["text"]
        card = await app.inbox("dept-jiaoguan", expect=1)
        assert "【移交工单】" in card[0]["text"] and number in card[0]["text"]
        assert "13912345678" not in card[0]["text"]  # departments never get the phone
        told = await app.inbox("r-d", expect=2)
        assert any("已移交交警中队处理，网格员李娜会继续跟进" in m["text"] for m in told)

        reply = await app.say("dept-jiaoguan", "已派警员到场，正在联系车主")
        assert "已记录并转告" in reply[0]["text"]
        assert any("【部门回复】" in m["text"] for m in await app.inbox("worker-li", expect=1))
        assert any(
            "交警中队回复：已派警员到场" in m["text"] for m in await app.inbox("r-d", expect=1)
        )

        await app.container.service.tickets.hand_to_department(
            number, "物业", actor=Actor.admin("console-liu", "刘洋"), cohandler=True
        )
        assert "【协办请求】" in (await app.inbox("dept-wuye", expect=1))[0]["text"]
        stranger = await app.say("dept-chengguan", f"回复 {number} 我们来看看")
        assert "没有找到移交给城管中队的工单" in stranger[0]["text"]

        done = await app.say("dept-jiaoguan", f"完成 {number} 车辆已拖离")
        assert "已记录完成情况" in done[0]["text"]
        assert any("部门反馈完成" in m["text"] for m in await app.inbox("worker-li", expect=1))
        await app.say("worker-li", f"办结 {number} 车辆已拖离，通道畅通")
        rating = await app.inbox("r-d", expect=3)
        assert rating[-1]["buttons"][0]["payload"] == f"rate:{number}:5"

        assert (await ticket_row(app, number)).assignee_id is not None
        kinds = await event_kinds(app, number)
        assert kinds == [
            "created",
            "assign",
            "accept",
            "handoff",
            "department_reply",
            "cohandle",
            "department_reply",
            "resolve",
        ]
        timeline = await app.container.service.tickets.timeline(number)
        [cohandle] = [e for e in timeline if e.kind == "cohandle"]
        assert (cohandle.actor_type, cohandle.actor_name) == ("admin", "刘洋")


async def test_residents_add_photos_and_words_to_an_open_ticket(start_app: Any) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-s", "6幢楼上装修太吵了")
        await app.inbox("worker-li", expect=1)
        upload = await app.client.post(
            "/api/v1/uploads",
            data={"user_id": "r-s"},
            files={"file": ("noise.png", PNG, "image/png")},
        )
        media = upload.json()["media"]
        choice = await app.say("r-s", media=[media])
        assert [b["payload"] for b in choice[-1]["buttons"]][:2] == [
            f"supplement:{number}",
            "newreport",
        ]
        added = await app.say("r-s", button=f"supplement:{number}")
        assert f"已补充到工单 {number}，已告知网格员李娜" in added[0]["text"]
        notice = await app.inbox("worker-li", expect=1)
        assert "【居民补充】" in notice[0]["text"] and notice[0].get("image")

        more = await app.say("r-s", "补充 晚上十点以后还在敲")
        assert "已补充到工单" in more[0]["text"]
        assert any("十点以后还在敲" in m["text"] for m in await app.inbox("worker-li", expect=1))
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            assert len(await uow.attachments.for_ticket(ticket.id or 0)) == 1
        assert (await event_kinds(app, number))[-2:] == ["supplement", "supplement"]


async def test_an_urgent_report_nobody_accepts_escalates_and_the_worker_sees_it(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        replies = await app.say("r-u", "3幢电梯困人了，快来人")
        [number] = numbers(texts(replies))[:1]
        clock.advance(minutes=10)
        result = await app.container.sweeper.run_once()
        assert result.fired >= 1
        worker = await app.inbox("worker-zhang", expect=2)
        assert any("超时上报" in m["text"] and "网格长陈静" in m["text"] for m in worker)
        leader = await app.inbox("leader-chen", expect=1)
        assert "超时上报" in leader[0]["text"]
        assert any("督办" in m["text"] for m in await app.inbox("r-u", expect=1))

        tasks = await app.say("leader-chen", "任务")
        assert "需要您督办的工单" in tasks[0]["text"] and number in tasks[0]["text"]
        accepted = await app.say("leader-chen", f"接单 {number}")
        assert f"已接单 {number}" in accepted[0]["text"]
        assert (await ticket_row(app, number)).status == "accepted"


async def test_no_rating_for_three_days_closes_the_ticket_unrated(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        number = await file_report(app, "r-r", "6幢楼道灯不亮")
        await app.say("worker-li", f"接单 {number}")
        await app.say("worker-li", f"办结 {number} 换了灯泡")
        await app.inbox("r-r", expect=2)
        clock.advance(days=3)
        await app.container.sweeper.run_once()
        closed = await app.inbox("r-r", expect=1)
        assert "3天未收到您的评价，已自动关闭" in closed[-1]["text"]
        assert (await ticket_row(app, number)).status == "closed"
        # a closed ticket refuses moves with a clear answer and stays as it is
        before = await event_kinds(app, number)
        refused = await app.say("worker-li", f"进展 {number} 再看看")
        assert "当前状态为“已关闭”，不能进展" in refused[0]["text"]
        assert await event_kinds(app, number) == before


async def test_open311_serves_our_categories_and_tickets_by_the_spec(start_app: Any) -> None:
    async with start_app() as app:
        parked = await file_report(
            app, "r-o", "6幢门口车堵了消防通道，我叫张建国，电话138 1234 5678"
        )
        noisy = await file_report(app, "r-p", "7幢楼上装修太吵", building="7幢")
        await app.say("worker-li", f"接单 {noisy}")
        await app.say("worker-li", f"办结 {noisy} 已劝停")

        services = await app.client.get("/open311/v2/services.json")
        assert services.status_code == 200
        for service in services.json():
            assert set(service) <= set(SERVICE_FIELDS) and set(SERVICE_REQUIRED) <= set(service)

        listed = await app.client.get("/open311/v2/requests.json")
        assert listed.status_code == 200
        records = {r["service_request_id"]: r for r in listed.json()}
        assert set(records) == {parked, noisy}
        for record in records.values():
            assert set(record) <= set(REQUEST_FIELDS) and set(REQUEST_REQUIRED) <= set(record)
            assert datetime.fromisoformat(record["requested_datetime"]).tzinfo is not None
        assert records[parked]["status"] == "open" and records[noisy]["status"] == "closed"
        assert "138 1234 5678" not in listed.text and "138 **** 5678" in listed.text
        assert "张建国" not in listed.text
        assert records[parked]["address"] == "6幢，阳光花园社区，西溪街道"
        # the status in words, never the worker's own note
        assert records[noisy]["status_notes"] == "已办结" and "已劝停" not in listed.text

        closed = await app.client.get("/open311/v2/requests.json", params={"status": "closed"})
        assert [r["service_request_id"] for r in closed.json()] == [noisy]
        parking = await app.client.get(
            "/open311/v2/requests.json", params={"service_code": "parking"}
        )
        assert [r["service_request_id"] for r in parking.json()] == [parked]
        one = await app.client.get(f"/open311/v2/requests/{parked}.json")
        assert [r["service_request_id"] for r in one.json()] == [parked]

        missing = await app.client.get("/open311/v2/requests/MH-20991231-0001.json")
        assert missing.status_code == 404 and missing.json()[0]["code"] == 404
        too_wide = await app.client.get(
            "/open311/v2/requests.json",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
        )
        assert too_wide.status_code == 400
        assert "90 days" in too_wide.json()[0]["description"]


async def test_two_apps_on_one_database_escalate_a_due_ticket_exactly_once(
    start_app: Any,
) -> None:
    clock = FakeClock()
    fast = {"sla": {"sweep_seconds": 0.01}}
    async with start_app(clock=clock, **fast) as one, start_app(clock=clock, **fast) as two:
        replies = await one.say("r-race", "3幢电梯困人了")
        [number] = numbers(texts(replies))[:1]
        clock.advance(minutes=11)
        # both apps' background sweepers are racing now; add two explicit sweeps for good measure
        await asyncio.gather(one.container.sweeper.run_once(), two.container.sweeper.run_once())
        for _ in range(100):
            if "escalate" in await event_kinds(one, number):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # let the loops run a few more rounds
        assert (await event_kinds(two, number)).count("escalate") == 1
        cards = await one.inbox("leader-chen", expect=1, wait=2)
        cards += await two.inbox("leader-chen", expect=0, wait=0.3)
        assert [m for m in cards if "超时上报" in m["text"]] == cards[:1] and len(cards) == 1


async def test_a_finished_ticket_is_refused_at_once_instead_of_offering_choices(
    start_app: Any,
) -> None:
    async with start_app() as app:
        number = await file_report(app, "r-done", "6幢楼道灯坏了")
        await app.inbox("worker-li")
        await app.say("worker-li", f"办结 {number} 换了灯泡")
        for command, action in (("转派", "转派"), ("移交", "移交"), ("进展", "进展")):
            reply = await app.say("worker-li", f"{command} {number}")
            assert (
                reply[0]["text"]
                == f"工单 {number} 当前状态为“已办结，等待居民评价”，不能{action}。"
            )
            assert reply[0]["buttons"] == []
