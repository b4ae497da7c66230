"""The street level through the JSON API: a community refers a ticket to its street, the
street sends it back with an instruction (clocks restart) or hands it to 12345 (the fake
hotline gets a signed work order and answers with its number), 12345's reply and closure
reach the resident; street staff see their street and nothing else; the dashboard per
street."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from handlers.account_service import create_user
from handlers.sla import ClockKind
from storage.models import Community, Hotspot, Street, Ticket
from tests.bot.admin.helpers import PASSWORD, api_token, bearer, fresh_client, login, make_user
from tests.bot.grid.fake12345 import Fake12345
from tests.bot.test_chat_api import file_report
from tests.factories import FakeClock

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600, "callback_minutes": 0}}


async def eventually(check: Callable[[], Any], wait: float = 5.0) -> Any:
    for _ in range(int(wait / 0.05)):
        if value := await check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def street_office(app: Any) -> dict[str, Any]:
    """The demo street gets a staff member 周敏 (web chat ``street-zhou``) with a console
    account; community staff 刘洋 gets one too. Returns API clients and ids."""
    await make_user(app.container, "boss", "admin")
    admin = bearer(app, await api_token(app.container, "boss"))
    [street] = (await admin.get("/api/v1/streets")).json()
    community_id = street["communities"][0]["id"]
    added = await admin.post(
        f"/api/v1/streets/{street['id']}/staff",
        json={"name": "周敏", "phone": "13900000009", "community_id": community_id},
    )
    assert added.status_code == 201, added.text
    async with app.container.store.unit() as uow:
        await uow.registry.bind_worker_identity(added.json()["id"], "web", "street-zhou")
        await create_user(
            uow,
            username="zhou",
            password=PASSWORD,
            role="street_staff",
            env="test",
            now=app.container.clock.now(),
            street_id=street["id"],
        )
    await make_user(app.container, "liu", "community_staff", community_id=community_id)
    return {
        "admin": admin,
        "street": bearer(app, await api_token(app.container, "zhou")),
        "community": bearer(app, await api_token(app.container, "liu")),
        "street_id": street["id"],
        "community_id": community_id,
    }


async def heard(app: Any, user: str, text: str, wait: float = 5.0) -> dict[str, Any]:
    """The first message to ``user`` containing ``text`` (the outbox is asynchronous)."""
    seen: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        seen += await app.inbox(user, wait=0.2)
        found = [m for m in seen if text in m["text"]]
        if found:
            return found[0]
    raise AssertionError(f"{user} never got {text!r}: {seen}")


def kinds(detail: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in detail["events"]]


async def test_the_street_sends_a_ticket_back_and_then_hands_it_to_12345(
    start_app: Any, fake_12345: Fake12345
) -> None:
    clock = FakeClock()
    city = {"url": fake_12345.url, "secret": fake_12345.secret}
    async with start_app(clock=clock, city12345=city, **QUIET) as app:
        office = await street_office(app)
        number = await file_report(app, "r-a", "6幢电梯按钮坏了，按了没反应")
        await app.inbox("worker-li")
        community, street = office["community"], office["street"]

        # the community cannot solve it: up to the street
        up = await community.post(
            f"/api/v1/tickets/{number}/street", json={"reason": "需动用维修基金，社区协调不了"}
        )
        assert up.status_code == 200, up.text
        assert up.json() == {"done": "已上报街道：周敏"}
        card = await heard(app, "street-zhou", "【社区上报街道】")
        assert card["text"].startswith(f"【社区上报街道】{number} 由liu上报街道：需动用维修基金")
        await heard(app, "r-a", "社区已上报街道协调处理")
        again = await community.post(f"/api/v1/tickets/{number}/street", json={"reason": "再报"})
        assert again.status_code == 409

        # the street sends it back with an instruction; the community's clocks restart
        clock.advance(hours=5)
        back = await street.post(
            f"/api/v1/tickets/{number}/send-back",
            json={"instruction": "请先联系物业出具维修方案，再申请维修基金"},
        )
        assert back.status_code == 200, back.text
        told = await heard(app, "worker-li", "【街道退回】")
        assert "请先联系物业出具维修方案" in told["text"]
        await heard(app, "staff-liu", "【街道退回】")
        detail = (await community.get(f"/api/v1/tickets/{number}")).json()
        assert detail["tier"] == ""
        assert kinds(detail)[-2:] == ["refer_street", "send_back"]
        assert detail["events"][-1]["note"] == "请先联系物业出具维修方案，再申请维修基金"
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            pending = await uow.clocks.for_ticket(ticket.id or 0, status="pending")
        resolve = [c for c in pending if c.kind == ClockKind.RESOLVE.value]
        assert len(resolve) == 1  # the old one was cancelled, a new one runs from now
        assert resolve[0].due_at == clock.now() + timedelta(seconds=resolve[0].target_seconds)

        # up again, and the street hands it to 12345 (no consent: no phone, no room)
        await community.post(f"/api/v1/tickets/{number}/street", json={"reason": "物业拒绝维修"})
        await app.inbox("street-zhou")
        forwarded = await street.post(
            f"/api/v1/tickets/{number}/12345",
            json={"note": "电梯更新需区住建局协调维修基金", "share_contact": False},
        )
        assert forwarded.status_code == 201, forwarded.text
        order = forwarded.json()
        assert order["status"] == "queued" and order["contact_shared"] is False
        work = order["payload"]
        assert work["ticket_number"] == number
        assert work["title"] == "阳光花园社区6幢 电梯故障"
        assert work["category"] == {"code": "elevator", "name": "电梯故障"}
        assert work["urgency"] == "紧急"  # a broken lift is high priority
        assert work["address"]["full"] == "西湖区西溪街道阳光花园社区6幢"
        assert work["address"]["room"] == ""
        assert work["reporter"] == {
            "contact_allowed": False,
            "phone": "",
            "callback_phone": "0571-88880001",
        }
        notes = [h["note"] for h in work["history"]]
        assert "请先联系物业出具维修方案，再申请维修基金" in notes and "物业拒绝维修" in notes

        # the fake 12345 gets the signed work order and answers with its number
        received = await eventually(lambda: _first(fake_12345.received))
        assert received["external_id"] == work["external_id"]
        orders = await eventually(lambda: _acknowledged(street, number))
        order_no = orders[0]["order_no"]
        assert order_no == "12345-20261122-000001"
        await heard(app, "r-a", f"12345工单号 {order_no}")
        detail = (await street.get(f"/api/v1/tickets/{number}")).json()
        assert detail["tier"] == "city"
        assert detail["events"][-1]["kind"] == "city_ack"
        assert detail["events"][-1]["note"] == f"12345已受理，工单号 {order_no}"

        # 12345 answers, then closes its order: the resident hears both and is asked to rate
        replied = await fake_12345.answer(app.client, order_no, "reply", "已转区住建局，三日内答复")
        assert replied.status_code == 200, replied.text
        assert replied.json() == {"ok": True, "ticket": number, "outcome": "replied"}
        answer = await heard(app, "r-a", "12345市民服务热线对您的工单")
        assert "三日内答复" in answer["text"]
        forged = await fake_12345.answer(app.client, order_no, "close", "伪造", secret="wrong")
        assert forged.status_code == 401
        stale = await fake_12345.answer(
            app.client, order_no, "close", "重放", stamp=int(time.time()) - 3600
        )
        assert stale.status_code == 401
        unknown = await fake_12345.answer(app.client, "12345-00000000-999999", "reply", "?")
        assert unknown.status_code == 404
        closed = await fake_12345.answer(
            app.client, order_no, "close", "维修基金已批复，电梯已更换"
        )
        assert closed.json()["outcome"] == "resolved"
        rating = await heard(app, "r-a", "电梯已更换")
        assert rating["buttons"], rating
        detail = (await street.get(f"/api/v1/tickets/{number}")).json()
        assert detail["status"] == "resolved"
        assert kinds(detail)[-2:] == ["city_reply", "city_resolve"]

        # the hand-off as JSON and CSV
        [listed] = (await street.get("/api/v1/city12345/orders")).json()
        assert (listed["status"], listed["last_reply"]) == ("closed", "维修基金已批复，电梯已更换")
        exported = await street.get("/api/v1/exports/city12345.csv")
        assert exported.status_code == 200
        lines = exported.text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("12345工单号,状态,民呼工单,标题")
        assert lines[1].startswith(f"{order_no},12345已办结,{number},阳光花园社区6幢 电梯故障")
        for client in (office["admin"], street, community):
            await client.aclose()


async def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


async def _acknowledged(client: Any, number: str) -> list[dict[str, Any]] | None:
    orders: list[dict[str, Any]] = (
        await client.get("/api/v1/city12345/orders", params={"ticket": number})
    ).json()
    return orders if orders and orders[0]["order_no"] else None


async def test_street_staff_see_their_street_and_nothing_outside_it(start_app: Any) -> None:
    clock = FakeClock()
    async with start_app(clock=clock, **QUIET) as app:
        office = await street_office(app)
        mine = await file_report(app, "r-a", "6幢电梯按钮坏了，按了没反应")
        async with app.container.store.unit() as uow:
            other_street = await uow.streets.save(Street(name="文新街道", district="西湖区"))
            other = await uow.registry.add(
                Community(name="文新社区", street=other_street.name, street_id=other_street.id)
            )
            await uow.tickets.add(
                Ticket(
                    number="MH-20261122-0900",
                    community_id=other.id,
                    category="sanitation",
                    description="垃圾没人清运",
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        street, community, admin = office["street"], office["community"], office["admin"]

        listed = (await street.get("/api/v1/tickets")).json()
        assert [t["number"] for t in listed["tickets"]] == [mine]
        assert (await street.get("/api/v1/tickets/MH-20261122-0900")).status_code == 404
        refused = await street.post(
            "/api/v1/tickets/MH-20261122-0900/send-back", json={"instruction": "x"}
        )
        assert refused.status_code == 404
        # the community may refer up, but only the street sends back or forwards
        assert (
            await community.post(f"/api/v1/tickets/{mine}/send-back", json={"instruction": "x"})
        ).status_code == 403
        assert (await community.post(f"/api/v1/tickets/{mine}/12345", json={})).status_code == 403
        # not referred yet: nothing to send back
        assert (
            await street.post(f"/api/v1/tickets/{mine}/send-back", json={"instruction": "x"})
        ).status_code == 409

        own = await street.get("/api/v1/admin/dashboard", params={"street": office["street_id"]})
        assert own.status_code == 200
        assert own.json()["street"] == "西溪街道" and own.json()["total"] == 1
        assert (
            await street.get("/api/v1/admin/dashboard", params={"street": other_street.id})
        ).status_code == 403
        assert (
            await street.get("/api/v1/city12345/orders", params={"street": other_street.id})
        ).status_code == 403
        assert [s["name"] for s in (await street.get("/api/v1/streets")).json()] == ["西溪街道"]

        everything = (await admin.get("/api/v1/admin/dashboard")).json()
        rows = {
            r["street"]: (r["communities"], r["total"], r["open"]) for r in everything["by_street"]
        }
        assert rows == {"文新街道": (1, 1, 1), "西溪街道": (1, 1, 1)}
        theirs = (
            await admin.get("/api/v1/admin/dashboard", params={"street": other_street.id})
        ).json()
        assert theirs["total"] == 1 and theirs["by_category"][0]["category"] == "sanitation"
        for client in (admin, street, community):
            await client.aclose()


async def test_streets_csv_round_trips_and_the_map_shows_hotspots(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        office = await street_office(app)
        admin = office["admin"]
        async with app.container.store.unit() as uow:
            await uow.registry.add(Community(name="文新社区"))
            six = next(b for b in await uow.registry.buildings() if b.name == "6幢")
            await uow.hotspots.save(
                Hotspot(
                    key="b:6:elevator",
                    rule="building",
                    community_id=six.community_id,
                    building_id=six.id,
                    place="6幢",
                    category="elevator",
                    count=3,
                    numbers=["MH-20261122-0001"],
                    first_at=app.container.clock.now(),
                    last_at=app.container.clock.now(),
                )
            )
        csv_text = "街道,区,热线,社区\n文新街道,西湖区,0571-88880002,文新社区\n"
        imported = await admin.post(
            "/api/v1/admin/imports/streets", files={"file": ("s.csv", csv_text.encode("utf-8"))}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json() == {"created": 1, "updated": 0}
        bad = "街道,社区\n新街道,没有这个社区\n"
        refused = await admin.post(
            "/api/v1/admin/imports/streets", files={"file": ("s.csv", bad.encode("utf-8"))}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"] == [{"row": 2, "message": "没有社区“没有这个社区”"}]
        exported = (await admin.get("/api/v1/admin/exports/streets.csv")).text.lstrip("\ufeff")
        assert exported.splitlines() == [
            "街道,区,热线,社区",
            "文新街道,西湖区,0571-88880002,文新社区",
            "西溪街道,西湖区,0571-88880001,阳光花园社区",
        ]
        # community staff may not run the streets CSV
        assert (
            await office["community"].get("/api/v1/admin/exports/streets.csv")
        ).status_code == 403

        async with fresh_client(app) as browser:
            await login(browser, "boss")
            page = await browser.get("/admin/map")
            assert page.status_code == 200
            assert 'data-hotspot="' in page.text and "电梯故障×3" in page.text
            streets = await browser.get("/admin/streets")
            assert streets.status_code == 200 and "周敏" in streets.text
        for client in (admin, office["street"], office["community"]):
            await client.aclose()


async def test_street_staff_send_a_ticket_back_from_their_chat(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        office = await street_office(app)
        number = await file_report(app, "r-b", "6幢电梯按钮坏了，按了没反应")
        await app.inbox("worker-li")
        community = office["community"]

        # before it reaches the street: nothing to send back; a grid worker may not at all
        early = await app.say("street-zhou", f"退回 {number} 请社区先处理")
        assert (
            early[0]["text"] == f"工单 {number} 不在街道（当前状态：已派单，等待接单），不能退回。"
        )
        worker = await app.say("worker-li", f"退回 {number} 不归我管")
        assert worker[0]["text"].startswith("“退回”是街道工作人员的指令")
        note = await app.say("worker-li", "退回了押金")  # a sentence, not a street command
        assert not note[0]["text"].startswith("“退回”")

        await community.post(f"/api/v1/tickets/{number}/street", json={"reason": "需协调维修基金"})
        await heard(app, "street-zhou", "【社区上报街道】")
        # the number is needed: a referred ticket is not the street's own task
        bare = await app.say("street-zhou", "退回 请社区先联系物业")
        assert bare[0]["text"].startswith("请带上工单号")
        # with no instruction the chat asks for one, and the next message is it
        asked = await app.say("street-zhou", f"退回 {number}")
        assert asked[0]["text"] == f"请回复工单 {number} 的退回说明："
        done = await app.say("street-zhou", "请先联系物业出具维修方案")
        assert done[0]["text"].startswith(f"已将工单 {number} 退回社区，已通知")
        assert done[0]["text"].endswith("街道意见：请先联系物业出具维修方案")
        told = await heard(app, "worker-li", "【街道退回】")
        assert "周敏" in told["text"] and "请先联系物业出具维修方案" in told["text"]
        detail = (await community.get(f"/api/v1/tickets/{number}")).json()
        assert detail["tier"] == ""
        assert detail["events"][-1]["kind"] == "send_back"
        assert detail["events"][-1]["actor_name"] == "周敏"

        # 12345 is confirmed in the console (the resident's consent to share their contact)
        await community.post(f"/api/v1/tickets/{number}/street", json={"reason": "物业拒绝"})
        city = await app.say("street-zhou", f"转12345 {number}")
        assert "管理后台" in city[0]["text"] and "转12345" in city[0]["text"]
        async with app.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
        assert ticket is not None and ticket.tier == "street"  # still with the street
        helped = await app.say("street-zhou", "帮助")
        assert "街道指令" in helped[0]["text"]
