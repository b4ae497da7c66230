"""The SMS notifier against a local Dysms gateway: the documented signature, delivery, flow
control retried, refused numbers unreachable, bad credentials given up."""

from __future__ import annotations

from typing import Any

from bot.config import SmsSettings
from bot.notify.sms import SmsNotifier, signature, sms_text
from handlers.messages import Button, Outbound
from handlers.ports import Recipient
from tests.bot.grid.fake_sms import FakeSmsGateway


def test_the_signature_matches_the_gateways_documented_example() -> None:
    # Alibaba Cloud's SendSms signing example (RPC style, signature version 1.0)
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert signature(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_a_text_message_has_no_buttons_and_is_cut_to_length() -> None:
    message = Outbound(text="工单已办结，请评价", buttons=(Button("满意", "rate:5"),))
    assert sms_text(message, 300) == "工单已办结，请评价"
    assert sms_text(Outbound(text="很" * 400), 50) == "很" * 49 + "…"


async def test_the_notifier_sends_retries_and_gives_up_as_the_gateway_answers(
    fake_sms: FakeSmsGateway,
) -> None:
    settings: dict[str, Any] = fake_sms.settings()
    notifier = SmsNotifier(SmsSettings(**settings))
    to = Recipient("sms", "13912345678")
    try:
        sent = await notifier.send(to, Outbound(text="您的工单已受理"), key="outbox:1")
        assert sent.ok and sent.platform_message_id == "biz1"
        assert fake_sms.sent[0]["OutId"] == "outbox:1"
        assert fake_sms.sent[0]["SignName"] == "民呼"
        fake_sms.failures.extend(["isv.BUSINESS_LIMIT_CONTROL", "isv.MOBILE_NUMBER_ILLEGAL"])
        later = await notifier.send(to, Outbound(text="x"), key="outbox:2")
        assert (later.ok, later.retry, later.retry_after) == (False, True, 60.0)
        gone = await notifier.send(to, Outbound(text="x"), key="outbox:3")
        assert gone.unreachable and not gone.retry
    finally:
        await notifier.close()
    wrong = SmsNotifier(SmsSettings(**{**settings, "access_key_secret": "not-the-secret"}))
    try:
        refused = await wrong.send(to, Outbound(text="x"), key="outbox:4")
    finally:
        await wrong.close()
    assert not refused.ok and not refused.retry and "SignatureDoesNotMatch" in refused.detail
    assert fake_sms.refused == ["signature"]
