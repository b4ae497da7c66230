"""Building heads and volunteers through the chat and the JSON API: asked on a ticket, their
已恢复 / 未恢复 on the timeline (未恢复 reopens it for the worker), residents asking "我的网格员",
notices passed on, and the registry (CSV import, link codes)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, login, make_user
from tests.bot.test_chat_api import file_report

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600}}


async def ids(app: Any) -> dict[str, int]:
    async with app.container.store.unit() as uow:
        found = {b.name: b.id for b in await uow.registry.buildings()}
        found["community"] = (await uow.registry.communities())[0].id
    return found


async def staff(app: Any) -> Any:
    async with app.container.store.unit() as uow:
        known = await uow.admin.user_by_name("staff-api")
    if known is None:
        place = await ids(app)
        await make_user(
            app.container, "staff-api", "community_staff", community_id=place["community"]
        )
    return bearer(app, await api_token(app.container, "staff-api"))


def payload(message: dict[str, Any], title: str) -> str:
    return next(b["payload"] for b in message["buttons"] if b["title"] == title)


async def test_a_building_head_confirms_the_fix_and_it_is_on_the_timeline(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        number = await file_report(app, "r-a", "6幢电梯按钮坏了，按了没反应")
        await app.inbox("worker-li", expect=1)
        asked = await app.say("worker-li", f"请楼栋长确认 {number}")
        assert asked[0]["text"] == (
            f"已登记：工单 {number} 办结后将请楼栋长张桂兰帮忙确认是否恢复。"
        )
        assert await app.inbox("head-zhang", wait=0.3) == []  # not before the resolution
        await app.say("worker-li", f"办结 {number} 更换了按钮面板")
        [ask] = await app.inbox("head-zhang")
        assert ask["text"] == (
            "【请帮忙确认】楼栋长您好，请帮忙确认 6幢 电梯已恢复。\n"
            f"工单 {number}（电梯故障），网格员李娜已办结：更换了按钮面板"
        )
        assert [b["title"] for b in ask["buttons"]] == ["已恢复", "未恢复"]
        # only the person asked may answer
        stranger = await app.say("r-a", button=payload(ask, "已恢复"))
        assert stranger[0]["text"] == "这条请求不是发给您的，或已失效。"
        thanks = await app.say("head-zhang", button=payload(ask, "已恢复"))
        assert thanks[0]["text"] == f"谢谢您！已记录：6幢 电梯已恢复（工单 {number}）。"
        told = await app.inbox("worker-li", expect=2)
        assert told[-1]["text"] == f"【楼栋长确认】张桂兰确认：6幢 电梯已恢复（工单 {number}）。"
        again = await app.say("head-zhang", button=payload(ask, "未恢复"))
        assert again[0]["text"] == f"这件事您已经答复过了（工单 {number}：已恢复），谢谢！"
        async with await staff(app) as client:
            detail = (await client.get(f"/api/v1/tickets/{number}")).json()
            helpers = (await client.get(f"/api/v1/tickets/{number}/helpers")).json()
        assert detail["status"] == "resolved"
        notes = [(e["kind"], e["actor_name"], e["note"]) for e in detail["events"]]
        assert ("helper_added", "李娜", "添加楼栋长张桂兰：办结后请其确认是否恢复") in notes
        assert ("helper_fixed", "楼栋长张桂兰", "楼栋长张桂兰确认 6幢 电梯已恢复") in notes
        assert [(h["name"], h["purpose"], h["answer_label"]) for h in helpers] == [
            ("张桂兰", "verify", "已恢复")
        ]


async def test_not_fixed_reopens_the_ticket_for_the_worker_and_helpers_can_respond_first(
    start_app: Any,
) -> None:
    async with start_app(**QUIET) as app:
        number = await file_report(app, "r-b", "6幢楼道灯坏了，晚上很黑")
        await app.say("worker-li", f"办结 {number} 换了灯泡")
        await app.inbox("worker-li", expect=9, wait=0.5)
        await app.inbox("r-b", expect=9, wait=0.5)
        async with await staff(app) as client:
            done = await client.post(
                f"/api/v1/tickets/{number}/helpers", json={"purpose": "verify"}
            )
            assert done.status_code == 200, done.text
            assert done.json()["asked"] == ["张桂兰"]
            [ask] = await app.inbox("head-zhang")
            assert ask["text"].startswith(
                "【请帮忙确认】楼栋长您好，请帮忙确认 6幢 公共设施已恢复。"
            )
            reply = await app.say("head-zhang", button=payload(ask, "未恢复"))
            assert reply[0]["text"] == (
                f"谢谢您的反馈！工单 {number} 已重新打开，并通知网格员李娜尽快处理。"
            )
            card = (await app.inbox("worker-li"))[0]["text"]
            assert card.startswith(
                f"【楼栋长反馈未恢复】张桂兰反馈：6幢 公共设施仍未恢复，工单 {number} 已重新打开"
            )
            resident = await app.inbox("r-b")
            assert resident[0]["text"] == (
                f"您反映的问题（工单 {number}）经楼栋长现场查看仍未恢复，已重新打开，"
                "网格员会继续处理。"
            )
            detail = (await client.get(f"/api/v1/tickets/{number}")).json()
            assert detail["status"] == "reopened"
            assert detail["events"][-1]["kind"] == "helper_not_fixed" or any(
                e["kind"] == "reopen" and e["actor_name"] == "楼栋长张桂兰"
                for e in detail["events"]
            )
            # a volunteer asked to respond first, by id
            helpers = (await client.get("/api/v1/helpers", params={"building": 6})).json()
            zhou = next(h for h in helpers if h["name"] == "周建国")
            first = await client.post(
                f"/api/v1/tickets/{number}/helpers",
                json={"purpose": "assist", "helper_ids": [zhou["id"]], "note": "请先看看"},
            )
            assert first.json()["asked"] == ["周建国"]
            [go] = await app.inbox("volunteer-zhou")
            assert go["text"].startswith("【请协助】党员志愿者您好，6幢有居民反映：6幢楼道灯坏了")
            here = await app.say("volunteer-zhou", button=payload(go, "已到场"))
            assert here[0]["text"] == f"谢谢您！已告诉网格员李娜您已到场（工单 {number}）。"
            told = await app.inbox("worker-li")
            assert told[0]["text"] == f"【党员志愿者已到场】周建国已到 6幢 查看（工单 {number}）。"
            twice = await client.post(
                f"/api/v1/tickets/{number}/helpers",
                json={"purpose": "assist", "helper_ids": [zhou["id"]]},
            )
            assert twice.status_code == 422


async def test_residents_ask_who_their_grid_worker_and_building_head_are(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        unknown = await app.say("r-new", "我的网格员")
        assert unknown[0]["text"] == "请告诉我您住哪一幢，例如“3幢的网格员是谁”。"
        answer = await app.say("r-new", "6幢的楼栋长是谁？")
        assert answer[0]["text"] == (
            "6幢的网格负责人：\n"
            "· 网格员：李娜，电话 13800000002\n"
            "· 网格长：陈静，电话 13800000005\n"
            "· 楼栋长：张桂兰，电话 139****0016\n"
            "· 党员志愿者：周建国，电话 139****0056\n"
            "（楼栋长、志愿者的电话只显示部分号码。有事可以直接在这里说，网格员会联系您。）"
        )
        await file_report(app, "r-c", "3幢门口垃圾堆了好几天没人清")
        mine = await app.say("r-c", "网格员电话多少")
        assert mine[0]["text"].startswith("3幢的网格负责人：\n· 网格员：张伟，电话 13800000001")
        # 3幢 has no building head or volunteer: no note about hidden numbers
        assert mine[0]["text"].endswith("（有事可以直接在这里说，网格员会联系您。）")
        assert "部分号码" not in mine[0]["text"]
        # a complaint about the worker is a report, not a question
        complaint = await app.say("r-c", "网格员一直不来修，太慢了")
        assert not complaint[0]["text"].startswith("3幢的网格负责人")


async def test_a_notice_reaches_building_heads_with_a_note_to_pass_it_on(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        place = await ids(app)
        async with await staff(app) as client:
            made = await client.post(
                "/api/v1/notices",
                json={
                    "scope": {"building": place["6幢"]},
                    "text": "明天9:00-12:00电梯年检，暂停使用",
                },
            )
            assert made.status_code == 201, made.text
            assert made.json()["helpers"] == 2
        [head] = await app.inbox("head-zhang")
        assert head["text"].startswith(
            "【请转告】楼栋长您好，以下通知请帮忙转告6幢的居民（特别是不用微信的老人）：\n"
            "【社区通知·电梯检修】阳光花园社区 6幢"
        )
        [zhou] = await app.inbox("volunteer-zhou")
        assert zhou["text"].startswith("【请转告】党员志愿者您好，以下通知请帮忙转告6幢的居民")


async def test_helpers_are_imported_from_csv_and_link_their_chat_with_a_code(
    start_app: Any,
) -> None:
    async with start_app(**QUIET) as app:
        async with await staff(app) as client:
            bad = "姓名,角色,社区,楼栋,单元,电话\n孙丽,单元长,阳光花园社区,9幢,,13900000091\n"
            refused = await client.post(
                "/api/v1/helpers/import", files={"file": ("h.csv", bad.encode(), "text/csv")}
            )
            assert refused.status_code == 422
            assert "第2行：单元长需要填写单元" in refused.json()["error"]
            good = (
                "姓名,角色,社区,楼栋,单元,电话\n"
                "孙丽,单元长,阳光花园社区,9幢,1单元,13900000091\n"
                "钱伟,党员志愿者,阳光花园社区,9号楼;十幢,,\n"
            )
            made = await client.post(
                "/api/v1/helpers/import", files={"file": ("h.csv", good.encode(), "text/csv")}
            )
            assert made.json() == {"created": 2}
            listed = (await client.get("/api/v1/helpers")).json()
            sun = next(h for h in listed if h["name"] == "孙丽")
            qian = next(h for h in listed if h["name"] == "钱伟")
            assert [b["name"] for b in qian["buildings"]] == ["9幢", "10幢"]
            assert sun["linked"] is False and sun["role_label"] == "单元长"
            code = (await client.post(f"/api/v1/helpers/{sun['id']}/link-code")).json()["code"]
            assert re.fullmatch(r"\d{4} \d{4}", code)
        linked = await app.say("r-sun", f"绑定{code.replace(' ', '')}")
        assert linked[0]["text"] == (
            "绑定成功！孙丽，您是9幢的单元长，需要您帮忙确认或转告的消息会发到这里。"
        )
        async with await staff(app) as client:
            listed = (await client.get("/api/v1/helpers", params={"building": 9})).json()
        assert {h["name"]: h["linked"] for h in listed} == {"孙丽": True, "钱伟": False}


async def test_the_console_registers_helpers_files_a_phone_report_and_asks_on_the_ticket(
    start_app: Any,
) -> None:
    async with start_app(**QUIET) as app:
        place = await ids(app)
        await make_user(
            app.container, "desk-staff", "community_staff", community_id=place["community"]
        )
        csrf = await login(app.client, "desk-staff")
        page = await app.client.get("/admin/helpers")
        assert page.status_code == 200 and "张桂兰" in page.text and "已绑定" in page.text
        added = await app.client.post(
            "/admin/helpers",
            data={
                "csrf_token": csrf,
                "name": "吴敏",
                "role": "unit_head",
                "unit": "1单元",
                "buildings": str(place["9幢"]),
                "phone": "13900000091",
            },
        )
        assert added.status_code == 303
        filed = await app.client.post(
            "/admin/desk",
            data={
                "csrf_token": csrf,
                "source": "counter",
                "phone": "13812340000",
                "building": str(place["9幢"]),
                "unit": "1",
                "category": "property",
                "description": "9幢1单元楼道扶手松了",
            },
        )
        assert filed.status_code == 200, filed.text
        number = re.findall(r"MH-\d{8}-\d{4}", filed.text)[0]
        assert "已登记工单" in filed.text and "绑定 " in filed.text
        ticket = await app.client.get(f"/admin/tickets/{number}")
        assert "单元长 吴敏" in ticket.text and "窗口受理" in ticket.text
        asked = await app.client.post(
            f"/admin/helpers/ask/{number}",
            data={"csrf_token": csrf, "purpose": "assist", "note": "请先看看"},
        )
        assert asked.status_code == 303
        again = await app.client.get(f"/admin/tickets/{number}")
        assert "先到场协助" in again.text and "未绑定聊天，请电话联系" in again.text
        assert "吴敏" in again.text
