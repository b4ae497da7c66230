"""Acceptance: a whole resident conversation driven by WeChat XML only — report, ticket,
worker updates, rating — in plaintext and in safe (AES) mode, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.wechat.helpers import bind_worker, eventually, ticket_number

pytestmark = pytest.mark.slow

RESIDENT = "oRsdt5Yq1bX0k2Lm3Np4Qr5St6Uv"
WORKER = "oWkrZhang8Hj7Gf6Ed5Cb4Ba3Zy2"


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "aes"])
async def test_resident_reports_worker_handles_and_resident_rates_when_all_by_wechat(
    wechat_app: Any, aes: bool
) -> None:
    async with wechat_app(aes=aes) as w:
        fake, wire = w.fake, w.wire
        await bind_worker(w.container, "张伟", WORKER)

        welcome = (await wire.send("event_subscribe", openid=RESIDENT)).text
        assert welcome is not None and "民呼" in welcome and "【1】我要报事" in welcome

        reply = await wire.say(RESIDENT, "3幢电梯坏了，有人被困在里面")
        number = ticket_number(reply)
        assert reply is not None and "96333" in reply and "张伟" in reply
        assert "手机号" in reply
        assert "电话已补充" in (await wire.say(RESIDENT, "13812345678") or "")

        # the worker gets the task as a template message (never wrote to the account)
        cards = await eventually(lambda: fake.templates_to(WORKER), what="task card")
        card = cards[0]
        assert card["template_id"] == "TPL_TASK_a9B8c7"
        assert card["data"]["keyword1"]["value"] == number
        assert "3幢" in card["data"]["keyword3"]["value"]
        assert "【1】接单" in card["data"]["remark"]["value"]

        # "1" is the first choice of what the worker was shown last: accept
        accepted = await wire.say(WORKER, "1")
        assert accepted is not None and "已接单" in accepted and "13812345678" in accepted
        progress = await wire.say(WORKER, "进展 已联系电梯维保公司，人已救出，正在检修")
        assert progress is not None and "进展已记录" in progress
        done = await wire.say(WORKER, f"办结 {number} 更换了门机板，电梯已恢复运行")
        assert done is not None and "已办结" in done

        # the resident hears every step as customer-service messages (window open)
        updates = await eventually(
            lambda: (t := fake.texts_to(RESIDENT)) and len(t) >= 3 and t, what="3 updates"
        )
        assert "张伟接单" in updates[0]
        assert "人已救出" in updates[1]
        assert "电梯已恢复运行" in updates[2] and "【5】★★★★★" in updates[2]

        thanks = await wire.say(RESIDENT, "5")
        assert thanks is not None and "5星" in thanks and "已关闭" in thanks

        async with w.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            assert (ticket.status, ticket.rating, ticket.channel) == ("closed", 5, "wechat")
            assert ticket.contact_phone == "13812345678"
            kinds = [e.kind for e in await uow.tickets.events(ticket.id)]
        assert kinds == [
            "created",
            "assign",
            "contact_added",
            "accept",
            "progress",
            "resolve",
            "rate",
        ]
        # the worker wrote within 48 hours: the rating notice comes as a customer-service message
        rated = await eventually(
            lambda: [t for t in fake.texts_to(WORKER) if "5星" in t], what="rating notice"
        )
        assert number in rated[0]
