"""Plays the WeChat server: posts signed (and, in safe mode, AES-encrypted) XML to the webhook
and opens the replies — all crypto by wechatpy's own ``WeChatCrypto``."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.bot.wechat.fake_wechat import APP_ID, SECRET

PAYLOADS = Path(__file__).resolve().parent / "payloads"
TOKEN = "minhuWebhookToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console shows
ACCOUNT = "gh_3a6f5e2d1c0b"

_msg_ids = itertools.count(24_100_000_000_000_001)


def next_msg_id() -> int:
    return next(_msg_ids)


def payload(kind: str, **values: Any) -> str:
    """A recorded payload from payloads/<kind>.xml with its blanks filled."""
    values.setdefault("account", ACCOUNT)
    values.setdefault("time", int(time.time()))
    values.setdefault("msg_id", next_msg_id())
    return (PAYLOADS / f"{kind}.xml").read_text(encoding="utf-8").format(**values)


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def wechat_config(base_url: str, *, aes: bool, **extra: Any) -> dict[str, Any]:
    """The ``wechat`` settings section pointing at the fake API server."""
    config: dict[str, Any] = {
        "app_id": APP_ID,
        "secret": SECRET,
        "token": TOKEN,
        "account_id": ACCOUNT,
        "api_base": base_url,
        "template_progress": "TPL_PROGRESS_x1Y2z3",
        "template_task": "TPL_TASK_a9B8c7",
    }
    if aes:
        config["aes_key"] = AES_KEY
    config.update(extra)
    return config


@dataclass
class Answer:
    status: int
    body: str
    text: str | None  # the reply's Content, None for "success"/empty
    elapsed: float


class WeChatWire:
    """Posts to /webhooks/wechat the way WeChat does, in plaintext or safe (AES) mode."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        aes: bool,
        token: str = TOKEN,
        app_id: str = APP_ID,
        aes_key: str = AES_KEY,
        compatible: bool = False,
    ) -> None:
        self.client = client
        self.aes = aes
        self.follow: Any = None  # a Follow (conftest): reads pushed answers after a holding reply
        self.token = token
        self.compatible = compatible
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.reply_crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

    def signed(self, xml: str, *, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        """Query parameters and body for one message."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = str(secrets.randbelow(10**9))
        found = re.search(r"<FromUserName><!\[CDATA\[([^\]]*)\]\]>", xml)
        openid = found.group(1) if found else ""
        params = {
            "signature": signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": openid,
        }
        if not self.aes:
            return params, xml
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        params.update(encrypt_type="aes", msg_signature=sealed["MsgSignature"])
        if self.compatible:  # compatible mode: the plaintext fields and Encrypt side by side
            body = xml.replace(
                "</xml>", f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
            )
        else:
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
            )
        return params, body

    async def post(self, xml: str, **kwargs: Any) -> Answer:
        params, body = self.signed(xml, **kwargs)
        return await self.post_raw(params, body)

    async def post_raw(self, params: dict[str, str], body: str | bytes) -> Answer:
        started = time.perf_counter()
        response = await self.client.post(
            "/webhooks/wechat",
            params=params,
            content=body.encode("utf-8") if isinstance(body, str) else body,
            headers={"Content-Type": "text/xml"},
        )
        elapsed = time.perf_counter() - started
        return Answer(response.status_code, response.text, self.open(response), elapsed)

    def open(self, response: httpx.Response) -> str | None:
        if response.status_code != 200 or response.text in ("", "success"):
            return None
        data = xmltodict.parse(response.text)["xml"]
        if "Encrypt" in data:
            assert self.aes, "an encrypted reply to a plaintext message"
            xml = self.reply_crypto.decrypt_message(
                response.text, data["MsgSignature"], data["TimeStamp"], data["Nonce"]
            )
            data = xmltodict.parse(xml)["xml"]
        else:
            assert not self.aes, "a plaintext reply in safe mode"
        assert data["MsgType"] == "text"
        return str(data["Content"])

    async def send(self, kind: str, **values: Any) -> Answer:
        return await self.post(payload(kind, **values))

    async def say(self, openid: str, content: str, **values: Any) -> str | None:
        """The resident's answer to one text. Over WeChat's 5 s the webhook sends the holding
        reply and pushes the answer as customer-service messages (``test_replies.py`` tests
        that); with ``follow`` set, a loaded machine's late answer is read from the pushes."""
        values.setdefault("msg_id", next_msg_id())
        before = len(self.follow.fake.texts_to(openid)) if self.follow else 0
        answer = await self.send("text", openid=openid, content=content, **values)
        assert answer.status == 200, answer.body
        if self.follow and answer.text and "正在为您处理" in answer.text:
            return await self.follow.pushed(openid, str(values["msg_id"]), before)
        return answer.text
