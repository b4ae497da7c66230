"""Signatures, the replay window, safe XML and the AES envelope (pure)."""

from __future__ import annotations

import pytest
from wechatpy.crypto import WeChatCrypto

from bot.wechat.security import (
    Envelope,
    Rejected,
    check_signature,
    check_timestamp,
    parse_xml,
    sign,
)
from tests.bot.wechat.test_webhook import LAUGHS, XXE
from tests.bot.wechat.wire import AES_KEY, TOKEN

APP_ID = "wx5f3a9c2b7d1e4f60"


def test_the_url_signature_is_checked() -> None:
    check_signature(TOKEN, sign(TOKEN, "1763800000", "42"), "1763800000", "42")
    for bad in ("", "0" * 40, sign("other", "1763800000", "42")):
        with pytest.raises(Rejected) as refused:
            check_signature(TOKEN, bad, "1763800000", "42")
        assert refused.value.status == 403


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        ("1763800000", True),
        ("1763800290", True),
        ("1763799000", False),
        ("1763809999", False),
        ("x", False),
    ],
)
def test_only_timestamps_within_the_window_pass(timestamp: str, ok: bool) -> None:
    if ok:
        check_timestamp(timestamp, 300, now=1763800000)
    else:
        with pytest.raises(Rejected):
            check_timestamp(timestamp, 300, now=1763800000)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (XXE, 400),
        (LAUGHS, 400),
        ('<!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><A>1</A></xml>', 400),
        ("<xml><A>1</A>", 400),
        ("<html><A>1</A></html>", 400),
        ("", 400),
        ("<xml><A>" + "a" * 5000 + "</A></xml>", 413),
        ("<xml><MsgType><b>text</b></MsgType></xml>", 400),
        ("<xml><MsgType>text</MsgType><MsgType>event</MsgType></xml>", 400),
        ("<xml><MsgType>event</MsgType><Event><x/></Event></xml>", 400),
        ("<xml><Content>" + "<a>" * 300 + "</a>" * 300 + "</Content></xml>", 400),
    ],
    ids=[
        "xxe",
        "billion-laughs",
        "external-dtd",
        "unclosed",
        "not-xml-root",
        "empty",
        "oversize",
        "msgtype-with-child",
        "two-msgtypes",
        "event-with-child",
        "deeply-nested-content",
    ],
)
def test_unsafe_or_broken_xml_is_refused(body: str, status: int) -> None:
    with pytest.raises(Rejected) as refused:
        parse_xml(body, max_bytes=4096)
    assert refused.value.status == status


def test_a_wechat_message_parses_into_its_fields() -> None:
    fields = parse_xml(
        "<xml><ToUserName><![CDATA[gh_a]]></ToUserName><MsgId>7</MsgId><Content>你好</Content></xml>",
        max_bytes=4096,
    )
    assert fields == {"ToUserName": "gh_a", "MsgId": "7", "Content": "你好"}


def test_the_envelope_opens_what_wechatpy_sealed_for_this_appid_only() -> None:
    envelope = Envelope(TOKEN, AES_KEY, APP_ID)
    sealed = parse_xml(
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(
            "<xml><A>1</A></xml>", "42", "1763800000"
        ),
        max_bytes=4096,
    )
    assert (
        envelope.open(sealed, sealed["MsgSignature"], "1763800000", "42") == "<xml><A>1</A></xml>"
    )
    with pytest.raises(Rejected):
        envelope.open(sealed, "0" * 40, "1763800000", "42")
    other = parse_xml(
        WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000").encrypt_message("<xml/>", "42", "1"),
        max_bytes=4096,
    )
    with pytest.raises(Rejected) as refused:
        envelope.open(other, other["MsgSignature"], "1", "42")
    assert refused.value.status == 403
    garbage = {"Encrypt": "bm90IGEgY2lwaGVydGV4dA=="}
    with pytest.raises(Rejected):
        envelope.open(garbage, sign(TOKEN, "1", "42", garbage["Encrypt"]), "1", "42")
