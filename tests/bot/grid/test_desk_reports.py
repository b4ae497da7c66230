"""Reports taken by phone or at the counter, through the JSON API: filed and routed like a
chat report, the resident updated by text message (a local Dysms gateway), then — after
"绑定 <code>" from the receipt — in their own chat; the phone masked where it leaves staff."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from tests.bot.admin.helpers import api_token, bearer, make_user
from tests.bot.grid.fake_sms import FakeSmsGateway

pytestmark = pytest.mark.slow

QUIET = {"sla": {"sweep_seconds": 3600}}
PHONE = "13912345678"


async def ids(app: Any) -> dict[str, int]:
    async with app.container.store.unit() as uow:
        found = {b.name: b.id for b in await uow.registry.buildings()}
        found["community"] = (await uow.registry.communities())[0].id
    return found


async def staff(app: Any) -> Any:
    async with app.container.store.unit() as uow:
        known = await uow.admin.user_by_name("desk-wu")
    if known is None:
        place = await ids(app)
        await make_user(
            app.container, "desk-wu", "community_staff", community_id=place["community"]
        )
    return bearer(app, await api_token(app.container, "desk-wu"))


async def texts_to(fake: FakeSmsGateway, phone: str, count: int, wait: float = 5.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        got = fake.to(phone)
        if len(got) >= count or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.05)


async def test_a_phone_report_is_routed_texted_and_moves_to_the_chat_once_linked(
    start_app: Any, fake_sms: FakeSmsGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with start_app(sms=fake_sms.settings(), **QUIET) as app:
        place = await ids(app)
        async with await staff(app) as client:
            made = await client.post(
                "/api/v1/tickets",
                json={
                    "source": "phone",
                    "phone": "139-1234-5678",
                    "name": "王阿姨",
                    "building": place["6幢"],
                    "unit": "2单元",
                    "category": "elevator",
                    "description": "6幢电梯停在5楼不动了，老人下不了楼",
                },
            )
            assert made.status_code == 201, made.text
            out = made.json()
            number = out["number"]
            assert out["assignee"] == "李娜" and out["updates_via"] == "sms"
            code = out["bind_code"]
            assert re.fullmatch(r"\d{4} \d{4}", code)
            assert out["receipt"] == (
                f"您反映的问题已受理，工单号 {number}（电梯故障），已派给网格员李娜。"
                f"进展会发到您的手机 139****5678。在“民呼”公众号或网页对话中发送“绑定 {code}”，"
                "即可改在微信/网页接收进展。"
            )
            # the worker's card says where it came from; the worker sees the full phone
            card = (await app.inbox("worker-li"))[0]["text"]
            assert card.startswith("【电话受理】") and f"联系电话：{PHONE}" in card
            # the receipt went out as a text message, signed for the gateway
            [receipt] = await texts_to(fake_sms, PHONE, 1)
            assert receipt == out["receipt"]
            # the worker's moves reach the resident by SMS
            await app.say("worker-li", f"接单 {number}")
            texts = await texts_to(fake_sms, PHONE, 2)
            assert number in texts[1] and "接单" in texts[1]
            # staff view: source and masked phone on the timeline
            detail = (await client.get(f"/api/v1/tickets/{number}")).json()
            assert detail["extra"]["source"] == "phone"
            assert detail["contact_phone"] == PHONE
            desk = [e for e in detail["events"] if e["kind"] == "desk_report"]
            assert desk[0]["note"] == "电话受理，居民电话 139****5678"
            # Open311 publishes no phone
            feed = await app.client.get(f"/open311/v2/requests/{number}.json")
            assert PHONE not in feed.text and "5678" not in feed.text
        # the resident links their web chat with the code from the receipt
        linked = await app.say("r-wang-ayi", f"绑定 {code}")
        assert linked[0]["text"] == f"绑定成功！工单 {number} 的进展以后会发到这里，不再发短信。"
        again = await app.say("r-other", f"绑定 {code}")
        assert again[0]["text"].startswith("绑定码不对或已过期")
        await app.say("worker-li", f"进展 {number} 电梯维保人员已到场")
        update = await app.inbox("r-wang-ayi")
        assert "电梯维保人员已到场" in update[0]["text"]
        await asyncio.sleep(0.3)
        assert len(fake_sms.to(PHONE)) == 2  # nothing more by text message
        # their next phone report goes straight to the linked chat, no code needed
        async with await staff(app) as client:
            second = await client.post(
                "/api/v1/tickets",
                json={
                    "source": "counter",
                    "phone": PHONE,
                    "building": place["6幢"],
                    "category": "sanitation",
                    "description": "楼下垃圾桶满了没人清",
                },
            )
            assert second.status_code == 201, second.text
            body = second.json()
            assert body["updates_via"] == "web" and body["bind_code"] is None
        receipt2 = await app.inbox("r-wang-ayi")
        assert receipt2[0]["text"].startswith("您在电话/窗口反映的问题已受理")
        assert fake_sms.refused == []
    assert PHONE not in caplog.text


async def test_a_phone_report_of_an_open_problem_asks_staff_follow_or_new(
    start_app: Any, fake_sms: FakeSmsGateway
) -> None:
    async with start_app(sms=fake_sms.settings(), **QUIET) as app:
        place = await ids(app)
        first = await app.say("r-li", "6号楼电梯坏了，按钮没反应")
        while not any(b["payload"] == "confirm" for b in first[-1]["buttons"]):
            first = await app.say("r-li", button="skip")
        created = await app.say("r-li", button="confirm")
        number = re.findall(r"MH-\d{8}-\d{4}", created[0]["text"])[0]
        report = {
            "phone": "13700001111",
            "building": place["6幢"],
            "category": "elevator",
            "description": "6幢电梯不动了",
        }
        async with await staff(app) as client:
            held = await client.post("/api/v1/tickets", json=report)
            assert held.status_code == 409
            assert held.json()["duplicate_of"] == number
            followed = await client.post("/api/v1/tickets", json={**report, "duplicate": "follow"})
            assert followed.status_code == 201 and followed.json()["followed"] is True
            assert followed.json()["number"] == number
        [text] = await texts_to(fake_sms, "13700001111", 1)
        assert text.startswith(f"已为您关注工单 {number}")
        await app.say("worker-li", f"办结 {number} 电梯已修好")
        texts = await texts_to(fake_sms, "13700001111", 3)
        assert "电梯已修好" in texts[-1]
        # later the resident proves the phone from a chat: a code by text message, then 绑定
        asked = await app.say("r-zhao", "绑定手机 137 0000 1111")
        assert asked[0]["text"] == (
            "如果 137****1111 有在电话或窗口登记的工单，绑定码会以短信发到该手机（30分钟内有效）。"
            "收到后在这里发送“绑定 绑定码”即可。"
        )
        texts = await texts_to(fake_sms, "13700001111", 4)
        code = re.findall(r"绑定 (\d{4} \d{4})", texts[-1])[0]
        await app.say("r-zhao", "绑定手机 13700001111")  # no second code within 10 minutes
        stranger = await app.say("r-other", "绑定手机 13600009999")  # unknown: same answer
        assert stranger[0]["text"].startswith("如果 136****9999 有在电话或窗口登记的工单")
        linked = await app.say("r-zhao", f"绑定 {code}")
        assert linked[0]["text"] == f"绑定成功！工单 {number} 的进展以后会发到这里，不再发短信。"
        await asyncio.sleep(0.3)
        assert len(fake_sms.to("13700001111")) == 4 and fake_sms.to("13600009999") == []


async def test_staff_of_another_community_and_bad_input_are_refused(start_app: Any) -> None:
    async with start_app(**QUIET) as app:
        place = await ids(app)
        async with await staff(app) as client:
            bad = await client.post(
                "/api/v1/tickets",
                json={
                    "phone": "123",
                    "building": place["6幢"],
                    "category": "x",
                    "description": "坏了",
                },
            )
            assert bad.status_code == 422
            landline = await client.post(
                "/api/v1/tickets",
                json={
                    "source": "窗口",
                    "phone": "0571-8888 1234",
                    "building": place["5幢"],
                    "category": "property",
                    "description": "5幢楼道灯坏了",
                },
            )
            # no SMS gateway and a landline: filed, updates wait until the resident links
            assert landline.status_code == 201, landline.text
            assert landline.json()["updates_via"] == "none"
            assert landline.json()["bind_code"]
            # the receipt read out or handed over promises no text message that never comes
            receipt = landline.json()["receipt"]
            assert "短信" not in receipt and "发到您的手机" not in receipt
            assert f"发送“绑定 {landline.json()['bind_code']}”" in receipt
            assert "凭工单号向社区查询" in receipt
