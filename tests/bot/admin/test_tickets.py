"""Tickets through the JSON API and the console: filters, detail, actions, CSV, roles."""

from __future__ import annotations

import csv
import io
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from tests.bot.admin.helpers import (
    Other,
    add_ticket,
    api_token,
    bearer,
    demo_ids,
    login,
    make_user,
    second_community,
)
from tests.factories import FakeClock

RESIDENT = "resident-admin-test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    app: Any
    clock: FakeClock
    ids: dict[str, Any]
    other: Other
    urgent: str  # 3幢 elevator, filed through the chat, assigned to 张伟
    noise: str  # 6幢 noise, 李娜, three days old: overdue
    remote: str  # 明月社区, 孙丽
    clients: dict[str, httpx.AsyncClient]


@asynccontextmanager
async def world(start_app: Any, **overrides: Any):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    async with start_app(clock=clock, **overrides) as app:
        c = app.container
        ids = await demo_ids(c)
        other = await second_community(c)
        replies = await app.say(RESIDENT, "3幢电梯坏了，有人被困在里面")
        urgent = re.search(r"MH-\d{8}-\d{4}", "\n".join(r["text"] for r in replies)).group()
        await app.say(RESIDENT, "13812345678")
        noise = await add_ticket(
            c,
            community_id=ids["community"],
            category="noise",
            assignee_id=ids["workers"]["李娜"],
            grid_id=ids["grids"]["第二网格"],
            building_id=ids["buildings"]["6幢"],
            building_name="6幢",
            description="6幢楼上半夜装修，电钻声很吵",
            created_at=clock.now() - timedelta(days=3),
        )
        remote = await add_ticket(
            c,
            community_id=other.community_id,
            category="parking",
            assignee_id=other.worker_id,
            grid_id=other.grid_id,
            building_id=other.building_id,
            building_name="明月1幢",
            description='=HYPERLINK("http://evil") 车堵了消防通道',
        )
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=ids["community"])
        await make_user(c, "moon", "community_staff", community_id=other.community_id)
        await make_user(c, "zhang", "grid_worker", worker_id=ids["workers"]["张伟"])
        clients = {
            name: bearer(app, await api_token(c, name)) for name in ("ops", "liu", "moon", "zhang")
        }
        try:
            yield World(app, clock, ids, other, urgent, noise, remote, clients)
        finally:
            for client in clients.values():
                await client.aclose()


async def numbers(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/tickets", params=params)
    assert response.status_code == 200, response.text
    return [t["number"] for t in response.json()["tickets"]]


async def test_ticket_api_filters_searches_and_paginates(start_app: Any) -> None:
    async with world(start_app) as w:
        ops = w.clients["ops"]
        assert set(await numbers(ops)) == {w.urgent, w.noise, w.remote}
        assert await numbers(ops, status="assigned", category="elevator") == [w.urgent]
        assert set(await numbers(ops, category=["noise", "parking"])) == {w.noise, w.remote}
        assert await numbers(ops, priority="urgent") == [w.urgent]
        # 3幢 is in 第一网格B微网格: filtering by 第一网格 includes its micro-grids
        assert await numbers(ops, grid=w.ids["grids"]["第一网格"]) == [w.urgent]
        assert await numbers(ops, q="电钻") == [w.noise]
        assert await numbers(ops, q="13812345678") == [w.urgent]
        assert await numbers(ops, q="100%_") == []
        today = w.clock.now().date().isoformat()
        assert w.noise not in await numbers(ops, date_from=today)
        assert await numbers(ops, date_to=(w.clock.now() - timedelta(days=2)).date()) == [w.noise]
        # the noise ticket is three days old and nobody accepted it: overdue
        assert await numbers(ops, overdue="true") == [w.noise]
        w.clock.advance(minutes=11)  # the urgent one is now past its 10-minute accept target
        assert set(await numbers(ops, overdue="true")) == {w.urgent, w.noise}
        page = (await ops.get("/api/v1/tickets", params={"per_page": 2, "page": 2})).json()
        assert page["total"] == 3 and len(page["tickets"]) == 1
        bad = await ops.get("/api/v1/tickets", params={"status": "nonsense"})
        assert bad.status_code == 422 and "nonsense" in bad.json()["error"]
        assert (await ops.get("/api/v1/tickets", params={"per_page": 1000})).status_code == 422
        listed = (await ops.get("/api/v1/tickets", params={"q": "电梯"})).json()["tickets"][0]
        assert listed["category"] == "elevator" and listed["priority"] == "urgent"
        assert listed["building"] == "3幢" and listed["grid"]["name"] == "第一网格B微网格"
        assert listed["assignee"]["name"] == "张伟" and listed["status"] == "assigned"


async def test_overdue_follows_the_sla_targets_per_priority_and_category(start_app: Any) -> None:
    # The console's "overdue" is the SLA clocks' targets: urgent accept 30 min here, and noise
    # with targets of its own (a week to accept, 200 hours to resolve).
    sla = {
        "urgent": {"accept_minutes": 30},
        "categories": {"noise": {"normal": {"accept_minutes": 10000, "resolve_hours": 200}}},
    }
    async with world(start_app, sla=sla) as w:
        ops = w.clients["ops"]
        assert await numbers(ops, overdue="true") == []  # the 3-day-old noise ticket is in time
        w.clock.advance(minutes=11)
        assert await numbers(ops, overdue="true") == []  # 11 minutes < 30
        w.clock.advance(minutes=20)
        assert await numbers(ops, overdue="true") == [w.urgent]
        detail = (await ops.get(f"/api/v1/tickets/{w.urgent}")).json()
        assert detail["overdue"] == "accept"
        assert (await ops.get(f"/api/v1/tickets/{w.noise}")).json()["overdue"] is None
        w.clock.advance(days=5)  # noise: 8 days unaccepted > 10,000 minutes (6.9 days)
        assert set(await numbers(ops, overdue="true")) == {w.urgent, w.noise, w.remote}
        assert (await ops.get(f"/api/v1/tickets/{w.noise}")).json()["overdue"] == "accept"


async def test_ticket_detail_has_timeline_photos_and_a_masked_conversation(start_app: Any) -> None:
    async with world(start_app) as w:
        c = w.app.container
        async with c.store.unit() as uow:
            ticket = await uow.tickets.by_number(w.urgent)
            await uow.attachments.add(
                PNG, kind="image", mime="image/png", channel="web", uploaded_by="web:r",
                ticket_id=ticket.id, now=w.clock.now(),
            )  # fmt: skip
        response = await w.clients["ops"].get(f"/api/v1/tickets/{w.urgent}")
        assert response.status_code == 200
        detail = response.json()
        assert detail["contact_phone"] == "13812345678"
        assert [e["kind"] for e in detail["events"]] == ["created", "assign", "contact_added"]
        assert detail["events"][1]["data"]["assignee"] == "张伟"
        assert detail["nlu"]["intent"] == "report_elevator"
        said = [m["text"] for m in detail["conversation"]]
        assert said == ["3幢电梯坏了，有人被困在里面", "138****5678"]
        assert "13812345678" not in str(detail["conversation"])
        photo = detail["photos"][0]
        image = await w.app.client.get(photo["url"])
        assert image.status_code == 200 and image.content == PNG
        assert (
            await w.app.client.get(f"/api/v1/attachments/{photo['id']}?sig=0")
        ).status_code == 403
        missing = await w.clients["ops"].get("/api/v1/tickets/MH-20000101-0001")
        assert missing.status_code == 404 and missing.json()["error"]


async def test_conversation_excerpt_shows_the_buttons_the_resident_pressed(start_app: Any) -> None:
    async with world(start_app) as w:
        app = w.app
        replies = await app.say("r-buttons", "5幢楼下有辆车堵住了消防通道")
        for _ in range(8):
            payloads = [b["payload"] for b in replies[-1]["buttons"]]
            if "confirm" in payloads:
                replies = await app.say("r-buttons", button="confirm")
                break
            replies = await app.say("r-buttons", button="skip")
        number = re.search(r"MH-\d{8}-\d{4}", replies[0]["text"]).group()
        detail = (await w.clients["ops"].get(f"/api/v1/tickets/{number}")).json()
        pressed = [(m["button"], m["button_title"]) for m in detail["conversation"] if m["button"]]
        assert ("skip", "跳过") in pressed and pressed[-1] == ("confirm", "确认提交")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.app), base_url="http://minhu.test"
        ) as browser:
            await login(browser, "ops")
            page = (await browser.get(f"/admin/tickets/{number}")).text
        assert "（点了“跳过”）" in page and "（点了“确认提交”）" in page


async def test_staff_of_one_community_cannot_read_or_change_another(start_app: Any) -> None:
    async with world(start_app) as w:
        liu, moon = w.clients["liu"], w.clients["moon"]
        assert set(await numbers(liu)) == {w.urgent, w.noise}
        assert await numbers(moon) == [w.remote]
        assert (await liu.get(f"/api/v1/tickets/{w.remote}")).status_code == 404
        assert (await moon.get(f"/api/v1/tickets/{w.urgent}")).status_code == 404
        for path, body in (
            ("reassign", {"worker_id": w.ids["workers"]["王芳"]}),
            ("category", {"category": "noise"}),
            ("notes", {"note": "看一下"}),
            ("close", {"reason": "处理完毕"}),
        ):
            response = await liu.post(f"/api/v1/tickets/{w.remote}/{path}", json=body)
            assert response.status_code == 404, path
        # nor give their own ticket to the other community's worker
        cross = await liu.post(
            f"/api/v1/tickets/{w.noise}/reassign", json={"worker_id": w.other.worker_id}
        )
        assert cross.status_code == 409 and "本社区" in cross.json()["error"]
        csv_text = (await liu.get("/api/v1/exports/tickets.csv")).text
        assert w.remote not in csv_text and w.noise in csv_text
        async with w.app.container.store.unit() as uow:
            remote = await uow.tickets.by_number(w.remote)
            assert remote.status == "assigned" and remote.category == "parking"
            assert [e.kind for e in await uow.tickets.events(remote.id)] == ["created"]


async def test_a_grid_worker_sees_only_their_own_tickets_and_may_only_note_or_recategorise(
    start_app: Any,
) -> None:
    async with world(start_app) as w:
        zhang = w.clients["zhang"]
        assert await numbers(zhang) == [w.urgent]
        assert (await zhang.get(f"/api/v1/tickets/{w.noise}")).status_code == 404
        assert (
            await zhang.post(f"/api/v1/tickets/{w.noise}/notes", json={"note": "x"})
        ).status_code == 404
        refused = await zhang.post(
            f"/api/v1/tickets/{w.urgent}/reassign", json={"worker_id": w.ids["workers"]["王芳"]}
        )
        assert refused.status_code == 403
        assert (
            await zhang.post(f"/api/v1/tickets/{w.urgent}/close", json={"reason": "好了"})
        ).status_code == 403
        noted = await zhang.post(f"/api/v1/tickets/{w.urgent}/notes", json={"note": "已到现场"})
        assert noted.status_code == 200
        assert noted.json()["events"][-1]["note"] == "已到现场"
        assert (await zhang.get("/api/v1/admin/users")).status_code == 403


async def test_reassign_tells_the_new_worker_the_old_worker_and_the_resident(
    start_app: Any,
) -> None:
    async with world(start_app) as w:
        app = w.app
        await app.inbox("worker-zhang", expect=2)  # the original task card and the phone
        await app.inbox(RESIDENT, expect=0, wait=0.2)
        moved = await w.clients["liu"].post(
            f"/api/v1/tickets/{w.urgent}/reassign",
            json={"worker_id": w.ids["workers"]["王芳"], "reason": "张伟今天请假"},
        )
        assert moved.status_code == 200, moved.text
        detail = moved.json()
        assert detail["assignee"]["name"] == "王芳" and detail["status"] == "transferred"
        event = detail["events"][-1]
        assert (event["kind"], event["actor_type"], event["note"]) == (
            "transfer",
            "admin",
            "张伟今天请假",
        )
        card = (await app.inbox("worker-wang"))[0]
        assert (
            "社区转派" in card["text"]
            and w.urgent in card["text"]
            and "张伟今天请假" in card["text"]
        )
        assert {b["title"] for b in card["buttons"]} >= {"接单", "办结"}
        old = (await app.inbox("worker-zhang"))[0]
        assert "王芳" in old["text"] and "无需再处理" in old["text"]
        resident = (await app.inbox(RESIDENT))[0]
        assert "已转交网格员王芳" in resident["text"]
        # the SLA accept clock restarts for 王芳: nobody accepting escalates as usual
        clocks = await app.container.service.tickets.clocks(w.urgent)
        pending = [k for k in clocks if k.status == "pending" and k.kind == "accept"]
        assert len(pending) == 1 and pending[0].started_at == w.clock.now()
        # 王芳 can now act on it in her chat
        accepted = await app.say("worker-wang", f"接单 {w.urgent}")
        assert "已接单" in accepted[0]["text"]
        same = await w.clients["liu"].post(
            f"/api/v1/tickets/{w.urgent}/reassign", json={"worker_id": w.ids["workers"]["王芳"]}
        )
        assert same.status_code == 409
        async with app.container.store.unit() as uow:
            entries, _ = await uow.admin.audit(action="ticket.")
        assert [(e.action, e.username, e.target_id) for e in entries] == [
            ("ticket.reassign", "liu", w.urgent)
        ]
        assert entries[0].before["assignee_id"] == w.ids["workers"]["张伟"]


async def test_close_follows_the_ticket_state_and_refuses_what_it_cannot_do(start_app: Any) -> None:
    async with world(start_app) as w:
        ops = w.clients["ops"]
        no_reason = await ops.post(f"/api/v1/tickets/{w.noise}/close", json={"reason": ""})
        assert no_reason.status_code == 422
        closed = await ops.post(f"/api/v1/tickets/{w.noise}/close", json={"reason": "重复报事"})
        assert closed.status_code == 200 and closed.json()["status"] == "cancelled"
        again = await ops.post(f"/api/v1/tickets/{w.noise}/close", json={"reason": "再关一次"})
        assert again.status_code == 409 and again.json()["error"] == "工单已经结束"
        await w.app.say("worker-zhang", f"接单 {w.urgent}")
        done = await ops.post(f"/api/v1/tickets/{w.urgent}/close", json={"reason": "已修复"})
        body = done.json()
        assert body["status"] == "closed" and body["resolved_at"] and body["closed_at"]
        assert [e["kind"] for e in body["events"]][-2:] == ["resolve", "close"]
        updates = await w.app.inbox(RESIDENT, expect=2)
        assert "已由社区关闭" in updates[-1]["text"] and "已修复" in updates[-1]["text"]
        # closing stops every SLA clock: nothing will escalate a closed ticket
        clocks = await w.app.container.service.tickets.clocks(w.urgent)
        assert clocks and not [k for k in clocks if k.status == "pending"]
        recat = await ops.post(f"/api/v1/tickets/{w.urgent}/category", json={"category": "nope"})
        assert recat.status_code == 409 and recat.json()["error"] == "未知类别"


async def test_recategorising_records_the_change_for_the_review_inbox(start_app: Any) -> None:
    async with world(start_app) as w:
        response = await w.clients["zhang"].post(
            f"/api/v1/tickets/{w.urgent}/category",
            json={"category": "safety", "note": "其实是消防"},
        )
        assert response.status_code == 200
        event = response.json()["events"][-1]
        assert event["kind"] == "recategorize" and event["data"]["from"] == "elevator"
        assert event["data"]["nlu_intent"] == "report_elevator"
        assert response.json()["category"] == "safety"


async def test_console_lists_filters_and_shows_a_ticket_with_notes_escaped(start_app: Any) -> None:
    async with world(start_app) as w:
        client = w.app.client
        csrf = await login(client, "liu")
        listing = await client.get("/admin/tickets", params={"category": "noise", "grid": ""})
        assert listing.status_code == 200
        assert (
            w.noise in listing.text
            and w.urgent not in listing.text
            and w.remote not in listing.text
        )
        assert "超时未接单" in listing.text
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        posted = await client.post(
            f"/admin/tickets/{w.noise}/note", data={"note": attack, "csrf_token": csrf}
        )
        assert posted.status_code == 303
        page = await client.get(f"/admin/tickets/{w.noise}")
        assert page.status_code == 200 and "备注已添加" in page.text
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        other = await client.get(f"/admin/tickets/{w.remote}")
        assert other.status_code == 404 and "没有找到该工单" in other.text
        bad = await client.post(
            f"/admin/tickets/{w.noise}/reassign",
            data={"worker_id": str(w.other.worker_id), "csrf_token": csrf},
            headers={"referer": f"http://minhu.test/admin/tickets/{w.noise}"},
        )
        assert bad.status_code == 303
        assert "本社区" in (await client.get(bad.headers["location"])).text


async def test_a_long_list_says_how_many_it_counted_and_offers_the_next_page(
    start_app: Any, monkeypatch: Any
) -> None:
    # a city-wide search stops counting at 1,000 ("1000+ 条"); here at 2 of the 3 tickets
    monkeypatch.setattr("handlers.staff_ticket_service.COUNT_UP_TO", 2)
    async with world(start_app) as w:
        client = w.app.client
        await login(client, "ops")
        listing = await client.get("/admin/tickets", params={"per_page": 1})
        assert "第 1 / 3+ 页（共 2+ 条）" in listing.text and "下一页" in listing.text
        assert "共 3 条" in (await client.get("/admin/tickets")).text  # all on one page
        page = (await w.clients["ops"].get("/api/v1/tickets", params={"per_page": 1})).json()
        assert (page["total"], page["total_is_lower_bound"]) == (2, True)
        last = await w.clients["ops"].get("/api/v1/tickets", params={"per_page": 1, "page": 3})
        assert (last.json()["total"], last.json()["total_is_lower_bound"]) == (3, False)


async def test_csv_export_is_excel_friendly_and_defuses_formulas(start_app: Any) -> None:
    async with world(start_app) as w:
        response = await w.clients["ops"].get(
            "/api/v1/exports/tickets.csv", params={"category": "parking"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["工单号", "类别", "优先级", "状态"]
        assert len(rows) == 2 and rows[1][0] == w.remote
        assert rows[1][-1].startswith("'=HYPERLINK")
