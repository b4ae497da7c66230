"""A local SMS gateway speaking Alibaba Cloud Dysms ``SendSms`` (RPC style, API 2017-05-25):
it checks the access key, the timestamp shape and the HMAC-SHA1 signature, and answers with
the gateway's JSON (``Code`` OK / isv.* errors)."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.notify.sms import signature

KEY_ID = "LTAI5tQ7fakeKeyId0001"
KEY_SECRET = "fake-secret-9f8e7d6c5b4a3210"
TEMPLATE = "SMS_480123456"


@dataclass
class FakeSmsGateway:
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        params = {k: str(v) for k, v in form.items()}
        given = params.pop("Signature", "")
        request_id = f"fake-{len(self.sent) + len(self.refused)}"
        if params.get("AccessKeyId") != KEY_ID:
            self.refused.append("key")
            return web.json_response(
                {"Code": "InvalidAccessKeyId.NotFound", "Message": "no such key"}, status=404
            )
        if given != signature(params, KEY_SECRET, "POST"):
            self.refused.append("signature")
            return web.json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}, status=400
            )
        assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
        assert params["TemplateCode"] == TEMPLATE and params["SignatureMethod"] == "HMAC-SHA1"
        if self.failures:
            code = self.failures.popleft()
            return web.json_response({"Code": code, "Message": code, "RequestId": request_id})
        content = json.loads(params["TemplateParam"])["content"]
        self.sent.append({"phone": params["PhoneNumbers"], "text": content, **params})
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "BizId": f"biz{len(self.sent)}",
                "RequestId": request_id,
            }
        )

    def to(self, phone: str) -> list[str]:
        return [m["text"] for m in self.sent if m["phone"] == phone]

    def settings(self) -> dict[str, Any]:
        return {
            "access_key_id": KEY_ID,
            "access_key_secret": KEY_SECRET,
            "template_code": TEMPLATE,
            "endpoint": self.base_url + "/",
        }
