"""The webhook: URL verification, every message kind and event, and what it refuses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from wechatpy.crypto import WeChatCrypto

from storage.models import Building
from tests.bot.wechat.helpers import eventually, inbound_count, ticket_number
from tests.bot.wechat.wire import (
    AES_KEY,
    TOKEN,
    WeChatWire,
    next_msg_id,
    payload,
    signature,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x11" * 2048


async def building(container: Any, name: str) -> Any:
    async with container.store.unit() as uow:
        for b in await uow.registry.buildings():
            if b.name == name:
                return b
    raise AssertionError(name)


async def test_url_verification_echoes_echostr_only_when_signed(wechat_app: Any) -> None:
    async with wechat_app() as w:
        ts, nonce = str(int(time.time())), "1514711492"
        params = {"timestamp": ts, "nonce": nonce, "echostr": "7134855112953917470"}
        good = await w.app.client.get(
            "/webhooks/wechat", params={**params, "signature": signature(TOKEN, ts, nonce)}
        )
        assert (good.status_code, good.text) == (200, "7134855112953917470")
        bad = await w.app.client.get(
            "/webhooks/wechat", params={**params, "signature": signature("guess", ts, nonce)}
        )
        assert bad.status_code == 403 and "7134855112953917470" not in bad.text


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "aes"])
async def test_each_message_kind_gets_the_answer_a_resident_expects(
    wechat_app: Any, aes: bool
) -> None:
    async with wechat_app(aes=aes) as w:
        wire, fake = w.wire, w.fake

        # a photo out of the blue: fetched through the media API, stored, and asked about
        fake.media["MEDIA_photo_1"] = (JPEG, "image/jpeg")
        answer = await wire.send("image", openid="oPhoto01xxxx", media_id="MEDIA_photo_1")
        assert answer.text is not None and "照片收到了" in answer.text
        assert fake.media_gets == ["MEDIA_photo_1"]
        async with w.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("wechat", "oPhoto01xxxx")
            ref = rows[0].payload["media"][0]["ref"]
            stored = await uow.attachments.get(int(ref.removeprefix("attachment:")))
            assert stored is not None and await uow.attachments.content(stored) == JPEG
        assert stored.mime == "image/jpeg" and stored.content == b""  # bytes: object store
        # ... and it is attached to the ticket the resident then files
        await wire.say("oPhoto01xxxx", "5幢楼道里堆满了纸箱杂物")
        for _ in range(6):  # answer the optional questions until the confirmation
            reply = await wire.say("oPhoto01xxxx", "跳过")
            if reply and "确认" in reply:
                break
        number = ticket_number(await wire.say("oPhoto01xxxx", "确认"))
        async with w.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None
            assert [a.id for a in await uow.attachments.for_ticket(ticket.id)] == [stored.id]

        # a photo WeChat cannot hand over any more
        answer = await wire.send("image", openid="oPhoto02xxxx", media_id="MEDIA_expired")
        assert answer.text is not None and "照片没有接收成功" in answer.text

        # voice: WeChat's recognition is the text; without it we ask for text
        answer = await wire.send(
            "voice_recognition", openid="oVoice01xxxx", media_id="V1", content="5幢电梯坏了。"
        )
        assert answer.text is not None and "几单元" in answer.text  # an elevator report goes on
        async with w.container.store.unit() as uow:
            rows = await uow.inbound.recent_for_user("wechat", "oVoice01xxxx")
        assert rows[0].payload["text"] == "5幢电梯坏了。"
        answer = await wire.send("voice", openid="oVoice02xxxx", media_id="V2")
        assert answer.text is not None and "语音没能转成文字" in answer.text

        # a shared location becomes the nearest registered building
        b3 = await building(w.container, "3幢")
        answer = await wire.send(
            "location",
            openid="oPlace01xxxx",
            latitude=b3.latitude,
            longitude=b3.longitude,
            label="杭州市西湖区阳光花园3幢",
        )
        assert answer.text is not None and "3幢附近" in answer.text

        # a shared article is read as text
        answer = await wire.send(
            "link",
            openid="oLink01xxxxx",
            title="9幢楼下有车堵住了消防通道",
            description="一辆白色轿车",
            url="https://mp.weixin.qq.com/s/abc",
        )
        assert answer.text is not None and "车牌" in answer.text  # understood: a parking report

        # video, short video and files get a polite answer
        for kind in ("video", "shortvideo", "file"):
            answer = await wire.send(kind, openid=f"o{kind}xxxxxxx", media_id="VID")
            assert answer.text is not None and "看不了视频和文件" in answer.text, kind


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "aes"])
async def test_events_subscribe_scan_and_menu_do_what_the_resident_tapped(
    wechat_app: Any, aes: bool
) -> None:
    async with wechat_app(aes=aes) as w:
        wire = w.wire
        b3 = await building(w.container, "3幢")

        welcome = (await wire.send("event_subscribe", openid="oSub01xxxxxx")).text
        assert welcome is not None and "民呼" in welcome and "使用方法" in welcome

        # a new follower scanning the stairwell code of 3幢: welcome, then the building is known
        scanned = (
            await wire.send("event_subscribe_scene", openid="oScan01xxxxx", scene=b3.code)
        ).text
        assert scanned is not None and "民呼" in scanned and "3幢。请问遇到了什么问题" in scanned
        reply = await wire.say(
            "oScan01xxxxx", "电梯停在半层，有人被困在里面"
        )  # urgent: filed at once
        number = ticket_number(reply)
        async with w.container.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            assert ticket is not None and ticket.building_name == "3幢"

        # an existing follower scanning (SCAN): no welcome, straight to the question
        scanned = (await wire.send("event_scan", openid="oScan02xxxxx", scene=b3.code)).text
        assert scanned is not None and "民呼" not in scanned and "3幢" in scanned
        # a code of no registered building: how to use the service instead
        unknown = (await wire.send("event_scan", openid="oScan03xxxxx", scene=99999)).text
        assert unknown is not None and "使用方法" in unknown
        # nor does a bare database id: ids change when the registry is rebuilt
        bare = (await wire.send("event_scan", openid="oScan04xxxxx", scene=b3.id)).text
        assert bare is not None and "使用方法" in bare

        # the custom menu
        report = (await wire.send("event_click", openid="oMenu01xxxxx", key="report")).text
        assert report is not None and "描述" in report
        status = (await wire.send("event_click", openid="oMenu02xxxxx", key="status")).text
        assert status is not None and "工单" in status
        help_ = (await wire.send("event_click", openid="oMenu03xxxxx", key="help")).text
        assert help_ is not None and "使用方法" in help_

        # no answer and no conversation for: menu links, location reports
        before = await inbound_count(w.container)
        view = await wire.send("event_view", openid="oMenu04xxxxx", url="https://example.org/x")
        loc = await wire.send(
            "event_location", openid="oMenu04xxxxx", latitude=30.1, longitude=120.1
        )
        assert (view.status, view.body, loc.status, loc.body) == (200, "success", 200, "success")
        assert await inbound_count(w.container) == before

        # unsubscribing marks the user unreachable; a block reported by a template job too
        for kind, extra in (
            ("event_unsubscribe", {}),
            ("event_template_finish", {"status": "failed:user block"}),
        ):
            openid = "oSub01xxxxxx" if kind == "event_unsubscribe" else "oMenu01xxxxx"
            answer = await wire.send(kind, openid=openid, **extra)
            assert (answer.status, answer.body) == (200, "success")
            async with w.container.store.unit() as uow:
                ident = await uow.registry.identity("wechat", openid)
            assert ident is not None and ident.reachable is False
        # subscribing again makes them reachable
        await wire.send("event_subscribe", openid="oSub01xxxxxx")
        async with w.container.store.unit() as uow:
            ident = await uow.registry.identity("wechat", "oSub01xxxxxx")
        assert ident is not None and ident.reachable is True


XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName><![CDATA[gh_3a6f5e2d1c0b]]></ToUserName>
<FromUserName><![CDATA[oEvil0000000]]></FromUserName><CreateTime>1</CreateTime>
<MsgType><![CDATA[text]]></MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""

LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><ToUserName>gh_3a6f5e2d1c0b</ToUserName><FromUserName>oEvil0000000</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&i;</Content><MsgId>2</MsgId></xml>"
)


def text_xml(openid: str = "oEvil0000000", **values: Any) -> str:
    return payload("text", openid=openid, content="3幢电梯坏了", **values)


async def test_plaintext_account_refuses_forged_replayed_and_hostile_requests(
    wechat_app: Any,
) -> None:
    async with wechat_app(max_body_bytes=4096) as w:
        wire: WeChatWire = w.wire
        forged = WeChatWire(w.app.client, aes=False, token="not-the-token")
        cases: list[tuple[str, Any, int]] = [
            ("wrong signature", forged.signed(text_xml()), 403),
            (
                "replayed an hour later",
                wire.signed(text_xml(), timestamp=int(time.time()) - 3600),
                403,
            ),
            ("malformed XML", wire.signed("<xml><MsgType>text</MsgType"), 400),
            ("not XML", wire.signed("hello"), 400),
            ("XXE", wire.signed(XXE), 400),
            ("entity expansion bomb", wire.signed(LAUGHS), 400),
            ("oversize", wire.signed(text_xml().replace("3幢电梯坏了", "坏" * 5000)), 413),
            ("another account", wire.signed(text_xml(account="gh_somebodyelse")), 403),
            (
                "no MsgType",
                wire.signed(
                    "<xml><ToUserName>gh_3a6f5e2d1c0b</ToUserName>"
                    "<FromUserName>oEvil0000000</FromUserName></xml>"
                ),
                400,
            ),
            ("openid over 128 characters", wire.signed(text_xml(openid="oLong" + "x" * 200)), 400),
            (
                "MsgType with a child element",
                wire.signed(
                    text_xml().replace(
                        "<MsgType><![CDATA[text]]></MsgType>", "<MsgType><b>text</b></MsgType>"
                    )
                ),
                400,
            ),
        ]
        params, body = wire.signed(text_xml())
        cases.append(("encrypted but no key", ({**params, "encrypt_type": "aes"}, body), 403))
        for name, (params, body), status in cases:
            answer = await wire.post_raw(params, body)
            assert answer.status == status, (name, answer.body)
            assert "Traceback" not in answer.body
        missing = await w.app.client.post("/webhooks/wechat", content=text_xml())
        assert missing.status_code == 403
        lying = await w.app.client.post(
            "/webhooks/wechat",
            params=params,
            content=b"<xml/>",
            headers={"Content-Length": "99999999"},
        )
        assert lying.status_code in (400, 413)
        assert await inbound_count(w.container) == 0
        # and the channel still works
        assert "张伟" in (await wire.say("oGood0000000", "3幢电梯坏了，有人被困") or "")


async def test_safe_mode_account_refuses_plaintext_wrong_appid_and_bad_msg_signature(
    wechat_app: Any,
) -> None:
    async with wechat_app(aes=True) as w:
        wire: WeChatWire = w.wire
        other_app = WeChatWire(w.app.client, aes=True, app_id="wx0000000000000000")
        other_key = WeChatWire(w.app.client, aes=True, aes_key="B" * 43)
        plaintext = WeChatWire(w.app.client, aes=False)
        params, body = wire.signed(text_xml())
        cases: list[tuple[str, Any, int]] = [
            ("another AppID", other_app.signed(text_xml()), 403),
            ("another AES key", other_key.signed(text_xml()), 403),
            ("plaintext to a safe-mode account", plaintext.signed(text_xml()), 403),
            ("bad msg_signature", ({**params, "msg_signature": "0" * 40}, body), 403),
            # fresh query parameters: reusing `params` with another body is a replay (403)
            (
                "no Encrypt",
                (wire.signed(text_xml())[0], "<xml><ToUserName>gh_3a6f5e2d1c0b</ToUserName></xml>"),
                400,
            ),
            ("XXE inside the ciphertext", wire.signed(XXE), 400),
            ("bomb inside the ciphertext", wire.signed(LAUGHS), 400),
        ]
        for name, (params, body), status in cases:
            answer = await wire.post_raw(params, body)
            assert answer.status == status, (name, answer.body)
        assert await inbound_count(w.container) == 0
        assert "张伟" in (await wire.say("oGood0000000", "3幢电梯坏了，有人被困") or "")


async def test_compatible_mode_body_with_plaintext_and_ciphertext_is_read_from_the_ciphertext(
    wechat_app: Any,
) -> None:
    async with wechat_app(aes=True, compatible=True) as w:
        reply = await w.wire.say("oCompat00000", "3幢电梯坏了，有人被困")
        assert reply is not None and "张伟" in reply


async def test_a_retry_of_a_finished_message_gets_the_same_passive_reply(wechat_app: Any) -> None:
    async with wechat_app(aes=True) as w:
        xml = payload(
            "text", openid="oRetry000000", content="3幢电梯坏了，有人被困", msg_id=next_msg_id()
        )
        first = await w.wire.post(xml)
        again = await w.wire.post(xml)  # WeChat's retry: same MsgId, new nonce and timestamp
        assert first.text is not None and first.text == again.text
        async with w.container.store.unit() as uow:
            assert len(await uow.tickets.search()) == 1
        await eventually(lambda: True)
        assert w.fake.custom == []  # answered passively: nothing pushed


def test_wire_crypto_is_wechatpys_own() -> None:
    """The test payloads are sealed by wechatpy, so they are what WeChat sends."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, "wx5f3a9c2b7d1e4f60")
    sealed = crypto.encrypt_message("<xml><A>1</A></xml>", "42", "1700000000")
    assert "<Encrypt>" in sealed and "<MsgSignature>" in sealed


async def test_scanning_a_code_after_an_abandoned_report_starts_fresh_at_that_building(
    wechat_app: Any,
) -> None:
    from tests.factories import FakeClock

    clock = FakeClock()
    async with wechat_app(clock=clock) as w:
        openid = "oAbandon0001"
        await w.wire.say(openid, "楼道里堆满了杂物")  # a report left half-filled
        clock.advance(minutes=40)  # longer than the conversation TTL (30 min)
        b5 = await building(w.container, "5幢")
        scanned = (await w.wire.send("event_scan", openid=openid, scene=b5.code)).text
        assert scanned is not None and "超时" not in scanned
        assert "5幢。请问遇到了什么问题" in scanned


async def test_printed_codes_reach_the_same_building_after_the_registry_is_rebuilt(
    wechat_app: Any,
) -> None:
    from bot.demo import load_demo

    async with wechat_app() as w:
        b3 = await building(w.container, "3幢")
        assert b3.code.startswith("b1.")
        # a sticker printed before codes were stable carries 3幢's id as a numeric scene
        async with w.container.store.unit() as uow:
            await uow.registry.map_scene(int(b3.id), b3.code)
        old_id = int(b3.id)

        # `minhu demo --reset`: every building is deleted and created again (new ids on
        # PostgreSQL; SQLite may hand out the same ones), then 3幢 once more at the end
        await load_demo(w.container.store, reset=True)
        async with w.container.store.unit() as uow:
            gone = await uow.registry.building_by_code(b3.code)
            assert gone is not None
            await uow.admin.delete_row(gone)
            await uow.registry.add(
                Building(community_id=gone.community_id, grid_id=gone.grid_id, name="3幢")
            )
        w.container.service.invalidate_registry()
        rebuilt = await building(w.container, "3幢")
        assert rebuilt.id != old_id and rebuilt.code == b3.code

        for openid, scene in (("oRebuilt0001", b3.code), ("oRebuilt0002", str(old_id))):
            scanned = (await w.wire.send("event_scan", openid=openid, scene=scene)).text
            assert scanned is not None and "3幢。请问遇到了什么问题" in scanned, scene
            reply = await w.wire.say(openid, "电梯停在半层，有人被困在里面")
            async with w.container.store.unit() as uow:
                ticket = await uow.tickets.by_number(ticket_number(reply))
            assert ticket is not None and ticket.building_id == rebuilt.id
