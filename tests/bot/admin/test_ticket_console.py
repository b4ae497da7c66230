"""A ticket's clocks, holder and departments, and the moves beyond the basic four: hand to a
department, escalate, merge, cancel — through the API and the console page."""

from __future__ import annotations

import re
from typing import Any

from tests.bot.admin.helpers import add_ticket, fresh_client, login
from tests.bot.admin.test_tickets import world


async def test_the_board_shows_deadlines_holder_and_level_and_departments(start_app: Any) -> None:
    async with world(start_app) as w:
        liu = w.clients["liu"]
        board = (await liu.get(f"/api/v1/tickets/{w.urgent}/clocks")).json()
        labels = [c["label"] for c in board["clocks"]]
        assert "接单时限" in labels
        accept = next(c for c in board["clocks"] if c["kind"] == "accept")
        assert 0 < accept["seconds_left"] <= 10 * 60  # urgent: ten minutes to accept
        assert accept["escalates_to"] in ("网格长", "社区工作人员")
        assert board["holder"]["name"] == "张伟"
        assert board["holder"]["level_label"] == "第1级（网格员）"
        assert board["departments"] == []
        chengguan = next(d for d in board["department_choices"] if d["name"] == "城管中队")

        handed = await liu.post(
            f"/api/v1/tickets/{w.urgent}/department",
            json={"department_id": chengguan["id"], "note": "请协助", "cohandler": True},
        )
        assert handed.status_code == 200, handed.text
        assert handed.json()["done"].startswith("交城管中队协办")
        board = (await liu.get(f"/api/v1/tickets/{w.urgent}/clocks")).json()
        assert [(d["name"], d["role_label"], d["status_label"]) for d in board["departments"]] == [
            ("城管中队", "协办", "处理中")
        ]

        depts = {d["name"]: d for d in (await liu.get("/api/v1/departments")).json()["departments"]}
        assert (depts["城管中队"]["handed"], depts["城管中队"]["in_hand"]) == (1, 1)
        assert depts["城管中队"]["contacts"] and depts["城管中队"]["phone"]
        moon = {
            d["name"]: d
            for d in (await w.clients["moon"].get("/api/v1/departments")).json()["departments"]
        }
        assert all(d["handed"] == 0 for d in moon.values())

        up = await liu.post(f"/api/v1/tickets/{w.urgent}/escalate", json={"reason": "居民很着急"})
        assert up.status_code == 200, up.text
        board = (await liu.get(f"/api/v1/tickets/{w.urgent}/clocks")).json()
        assert board["holder"]["name"] == "张伟"  # still the one doing the work
        assert board["escalation"]["to"].startswith("网格长")
        assert board["escalation"]["level_label"] == "第2级（网格长）"
        assert up.json()["done"] == f"上报给{board['escalation']['to']}"

        # the console page shows it all, with running clocks
        staff = fresh_client(w.app)
        await login(staff, "liu")
        page = (await staff.get(f"/admin/tickets/{w.urgent}")).text
        assert "时限与承办" in page and 'data-due="' in page
        assert "已上报" in page and "网格长" in page and "城管中队" in page and "协办" in page
        departments = (await staff.get("/admin/departments")).text
        assert "城管中队" in departments and "办结用时中位数" in departments
        for action in ("交给部门", "上报上一级", "合并到该工单", "撤销工单", "转派", "关闭工单"):
            assert action in page


async def test_merge_and_cancel_with_refusals_in_words(start_app: Any) -> None:
    async with world(start_app) as w:
        liu, zhang, moon = w.clients["liu"], w.clients["zhang"], w.clients["moon"]
        twin = await add_ticket(
            w.app.container,
            community_id=w.ids["community"],
            category="noise",
            assignee_id=w.ids["workers"]["李娜"],
            building_name="6幢",
            description="6幢又在装修",
        )
        # a grid worker may not merge; another community cannot even see the ticket
        refused = await zhang.post(f"/api/v1/tickets/{twin}/merge", json={"into": w.noise})
        assert refused.status_code in (403, 404)
        hidden = await moon.post(f"/api/v1/tickets/{twin}/merge", json={"into": w.noise})
        assert hidden.status_code == 404
        bad = await liu.post(f"/api/v1/tickets/{twin}/merge", json={"into": "nonsense"})
        assert bad.status_code == 422
        merged = await liu.post(f"/api/v1/tickets/{twin}/merge", json={"into": w.noise})
        assert merged.status_code == 200, merged.text
        assert merged.json()["done"].startswith(f"合并到 {w.noise}")
        detail = (await liu.get(f"/api/v1/tickets/{twin}")).json()
        assert detail["status_label"] != detail["status"]

        cancelled = await liu.post(f"/api/v1/tickets/{w.noise}/cancel", json={"reason": "测试数据"})
        assert cancelled.status_code == 200, cancelled.text
        again = await liu.post(f"/api/v1/tickets/{w.noise}/cancel", json={"reason": "再撤一次"})
        assert again.status_code == 409
        assert re.search("[\u4e00-\u9fff]", again.json()["error"])
        board = (await liu.get(f"/api/v1/tickets/{w.noise}/clocks")).json()
        assert board["open"] is False and board["clocks"] == []

        # the console form does the same and says what happened
        staff = fresh_client(w.app)
        csrf = await login(staff, "liu")
        done = await staff.post(
            f"/admin/tickets/{w.urgent}/escalate", data={"reason": "夜间无人接", "csrf_token": csrf}
        )
        assert done.status_code == 303
        page = await staff.get(done.headers["location"])
        assert "已完成：上报给网格长" in page.text


async def test_the_promised_call_back_is_a_clock_with_time_left_on_the_ticket_page(
    start_app: Any,
) -> None:
    from datetime import timedelta

    from storage.models import TicketClock

    async with world(start_app) as w:
        c = w.app.container
        async with c.store.unit() as uow:
            ticket = await uow.tickets.by_number(w.noise)
            await uow.clocks.add(
                TicketClock(
                    ticket_id=ticket.id,
                    kind="callback",
                    level=1,
                    due_at=w.clock.now() + timedelta(minutes=8),
                    target_seconds=600,
                    started_at=w.clock.now() - timedelta(minutes=2),
                )
            )
        board = (await w.clients["liu"].get(f"/api/v1/tickets/{w.noise}/clocks")).json()
        callback = next(x for x in board["clocks"] if x["kind"] == "callback")
        assert callback["label"] == "回电承诺（网格员给居民回电）"
        assert 7 * 60 < callback["seconds_left"] <= 8 * 60
        assert callback["escalates_to"] == "网格长"  # a missed call-back goes to the leader
        staff = fresh_client(w.app)
        await login(staff, "liu")
        page = (await staff.get(f"/admin/tickets/{w.noise}")).text
        assert "回电承诺（网格员给居民回电）" in page and "剩余 0小时8分" in page
