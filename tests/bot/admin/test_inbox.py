"""The live handoff inbox: a resident asks for a person, staff answer in the console, the
resident reads it in the web chat, staff file a ticket and hand the resident back to the bot."""

from __future__ import annotations

import re
from typing import Any

from tests.bot.admin.helpers import demo_ids, fresh_client, login, make_user, second_community
from tests.factories import FakeClock

RESIDENT = "resident-handoff"


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


async def test_resident_asks_for_a_person_and_staff_answer_file_a_ticket_and_hand_back(
    start_app: Any,
) -> None:
    clock = FakeClock()
    async with start_app(clock=clock) as app:
        c = app.container
        ids = await demo_ids(c)
        other = await second_community(c)
        await make_user(c, "wangfang", "community_staff", community_id=ids["community"])
        await make_user(c, "mingyue", "community_staff", community_id=other.community_id)

        # the resident asks for a person; without a phone on record the bot asks for one
        asked = await app.say(RESIDENT, "转人工")
        assert "手机号" in texts(asked)
        opened = await app.say(RESIDENT, "13812345678")
        said = texts(opened)
        assert "已为您转接社区工作人员" in said and "前接入" in said
        assert any(b["payload"] == "handoff:end" for r in opened for b in r["buttons"])
        waiting = await app.say(RESIDENT, "我家3幢楼道灯坏了一个星期了，电话13812345678")
        assert texts(waiting) == "已收到，社区工作人员接入后会在这里回复您。"

        staff = fresh_client(app)
        csrf = await login(staff, "wangfang")
        headers = {"X-CSRF-Token": csrf}
        inbox = (await staff.get("/api/v1/handoffs")).json()["handoffs"]
        assert [h["status_label"] for h in inbox] == ["等待接入"]
        hid = inbox[0]["id"]
        assert "138****5678" in inbox[0]["last_text"] and "13812345678" not in str(inbox)

        # another community's staff cannot even see it
        stranger = fresh_client(app)
        await login(stranger, "mingyue")
        assert (await stranger.get("/api/v1/handoffs")).json()["handoffs"] == []
        assert (await stranger.get(f"/api/v1/handoffs/{hid}")).status_code == 404

        page = await staff.get("/admin/inbox")
        assert "等待接入" in page.text and 'class="clock"' in page.text
        detail = (await staff.get(f"/api/v1/handoffs/{hid}")).json()
        assert any("转人工" in m["text"] for m in detail["history"])

        taken = await staff.post(f"/api/v1/handoffs/{hid}/take", headers=headers)
        assert taken.status_code == 200 and taken.json()["status"] == "taken"
        pushed = texts(await app.inbox(RESIDENT))
        assert "社区工作人员wangfang已接入" in pushed

        reply = await staff.post(
            f"/api/v1/handoffs/{hid}/messages",
            json={"text": "您好，我们今天下午安排电工去看。"},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        assert "【社区工作人员wangfang】您好，我们今天下午安排电工去看。" in texts(
            await app.inbox(RESIDENT)
        )

        # while staff answer, the bot stays quiet and staff see what the resident writes
        last = reply.json()["id"]
        assert await app.say(RESIDENT, "好的谢谢，我下午在家") == []
        news = (await staff.get(f"/api/v1/handoffs/{hid}/messages?after={last}")).json()
        assert [m["text"] for m in news["messages"]] == ["好的谢谢，我下午在家"]
        assert news["messages"][0]["sender_label"] == "居民"

        filed = await staff.post(
            f"/api/v1/handoffs/{hid}/ticket",
            json={"category": "property", "description": "3幢楼道灯坏了一周"},
            headers=headers,
        )
        assert filed.status_code == 200, filed.text
        number = filed.json()["number"]
        assert re.fullmatch(r"MH-\d{8}-\d{4}", number)
        assert f"已为您登记工单 {number}" in texts(await app.inbox(RESIDENT))
        ticket = (await staff.get(f"/api/v1/tickets/{number}")).json()
        assert ticket["description"] == "3幢楼道灯坏了一周"
        again = await staff.post(
            f"/api/v1/handoffs/{hid}/ticket",
            json={"category": "property", "description": "再来一次"},
            headers=headers,
        )
        assert again.status_code == 409

        released = await staff.post(f"/api/v1/handoffs/{hid}/release", headers=headers)
        assert released.status_code == 204
        assert "接下来由智能助手为您服务" in texts(await app.inbox(RESIDENT))
        assert (await staff.get("/api/v1/handoffs")).json()["handoffs"] == []
        # the bot answers again
        status = texts(await app.say(RESIDENT, "查一下我的工单进度"))
        assert number in status

        audit = (await staff.get("/admin/inbox")).text
        assert number in audit  # the recently closed list links the ticket


async def test_resident_ends_the_handoff_and_the_bot_takes_over(start_app: Any) -> None:
    async with start_app() as app:
        await app.say("resident-end", "转人工")
        await app.say("resident-end", "13912345678")
        ended = await app.say("resident-end", button="handoff:end")
        assert "已结束人工对话" in texts(ended)
        async with app.container.store.unit() as uow:
            assert await uow.handoffs.open_for("web", "resident-end") is None


async def test_a_danger_written_while_waiting_for_a_person_is_advised_and_filed_at_once(
    start_app: Any,
) -> None:
    """A handoff quiets the bot, never the safety layer: a trapped person gets 96333 and an
    urgent ticket at once, and staff still read the message in the conversation."""
    async with start_app() as app:
        c = app.container
        ids = await demo_ids(c)
        await make_user(c, "wangfang", "community_staff", community_id=ids["community"])
        await app.say(RESIDENT, "转人工")
        opened = await app.say(RESIDENT, "13812345678")
        assert "已为您转接社区工作人员" in texts(opened)

        ordinary = await app.say(RESIDENT, "3幢电梯又坏了")
        assert texts(ordinary) == "已收到，社区工作人员接入后会在这里回复您。"

        danger = texts(await app.say(RESIDENT, "3幢电梯卡住了，我妈在里面出不来"))
        assert "96333" in danger
        assert re.search(r"MH-\d{8}-\d{4}", danger), danger

        staff = fresh_client(app)
        await login(staff, "wangfang")
        hid = (await staff.get("/api/v1/handoffs")).json()["handoffs"][0]["id"]
        history = (await staff.get(f"/api/v1/handoffs/{hid}")).json()
        said = " ".join(m["text"] for m in history["messages"])
        assert "我妈在里面出不来" in said


async def test_a_negated_danger_while_waiting_stays_with_staff(start_app: Any) -> None:
    async with start_app() as app:
        await app.say(RESIDENT, "转人工")
        await app.say(RESIDENT, "13812345678")
        replies = await app.say(RESIDENT, "3幢电梯坏了，还好没有人被困")
        assert texts(replies) == "已收到，社区工作人员接入后会在这里回复您。"


async def test_a_resident_the_bot_cannot_understand_three_times_goes_to_the_inbox(
    start_app: Any,
) -> None:
    async with start_app() as app:
        c = app.container
        ids = await demo_ids(c)
        await make_user(c, "wangfang", "community_staff", community_id=ids["community"])
        words = ("啊这个", "哦哦哦哦", "呃呃那个那个")  # not understood, out of scope, again
        seen = [texts(await app.say("resident-stuck", w)) for w in words]
        said = seen[-1]
        assert said.startswith("抱歉，我几次都没能明白您的意思，已请社区工作人员来帮您。"), seen
        assert "已为您转接社区工作人员" in said and "前接入" in said  # who answers, and by when
        staff = fresh_client(app)
        await login(staff, "wangfang")
        inbox = (await staff.get("/api/v1/handoffs")).json()["handoffs"]
        assert [(h["status_label"], h["reason_label"]) for h in inbox] == [
            ("等待接入", "机器人无法处理")
        ]
        detail = (await staff.get(f"/api/v1/handoffs/{inbox[0]['id']}")).json()
        assert any("呃呃那个那个" in m["text"] for m in detail["history"])
        page = await staff.get("/admin/inbox")
        assert "机器人无法处理" in page.text
        # what the resident writes next goes to staff, not to the bot
        waiting = await app.say("resident-stuck", "楼道灯坏了")
        assert texts(waiting) == "已收到，社区工作人员接入后会在这里回复您。"
