"""Text messages (SMS) to residents who reported by phone or at the counter.

The gateway speaks Alibaba Cloud's Dysms ``SendSms`` (API version 2017-05-25, RPC style):
one form-encoded POST per message, signed with HMAC-SHA1 over the sorted, percent-encoded
parameters (signature version 1.0). Most Chinese SMS providers and in-house gateways accept
this shape; ``MINHU_SMS__ENDPOINT`` points at any of them (tests: a local fake).

A text message cannot carry buttons, and a reply to it does not reach Minhu: the message is
the text alone, cut to ``max_chars``. It travels in one template variable
(``MINHU_SMS__TEMPLATE_PARAM``, default ``content``) of a notification template approved for
the signature, e.g. ``${content}``.

Answer codes (``Code``): ``OK`` sent; flow control and balance are retried later; a number
the carrier refuses is unreachable; anything else (bad key, signature, template) is logged
and given up, so an operator sees it in the dead-letter view.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from bot.config import SmsSettings
from handlers.messages import Outbound
from handlers.ports import DeliveryResult, Recipient
from handlers.privacy import mask_id

log = logging.getLogger("minhu.sms")

NAME = "sms"
API_VERSION = "2017-05-25"
LATER = {
    "isv.BUSINESS_LIMIT_CONTROL": 60.0,  # per-number flow control (1/min, 5/h, 10/day)
    "isv.DAY_LIMIT_CONTROL": 3600.0,
    "isv.AMOUNT_NOT_ENOUGH": 600.0,  # the account ran out of credit
    "isp.SYSTEM_ERROR": 30.0,
    "isp.RAM_PERMISSION_DENY": 300.0,
    "Throttling.User": 10.0,
}
UNREACHABLE = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.BLACK_KEY_CONTROL_LIMIT",  # the number is on the carrier's block list
    "isv.PHONE_NUMBER_ILLEGAL",
}


def percent(value: str) -> str:
    """RFC 3986 encoding as the signature wants it (``~`` kept, space as ``%20``)."""
    return quote(value, safe="~")


def signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """The ``Signature`` parameter of an RPC-style request (signature version 1.0)."""
    canonical = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sms_text(message: Outbound, max_chars: int) -> str:
    """The message as one text: no buttons (a reply to a text does not reach Minhu)."""
    text = message.text.strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


class SmsNotifier:
    """`handlers.ports.Notifier` for text messages through the SMS gateway (never raises)."""

    channel = NAME

    def __init__(self, settings: SmsSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_seconds))

    def request(self, phone: str, text: str, key: str, now: datetime) -> dict[str, str]:
        """The signed form of one ``SendSms`` call."""
        s = self.settings
        params = {
            "AccessKeyId": s.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": key[:64],  # our outbox item, echoed in delivery receipts
            "PhoneNumbers": phone,
            "SignName": s.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": s.template_code,
            "TemplateParam": json.dumps({s.template_param: text}, ensure_ascii=False),
            "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        params["Signature"] = signature(params, s.access_key_secret.get_secret_value())
        return params

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        text = sms_text(message, self.settings.max_chars)
        form = self.request(recipient.user_id, text, key, datetime.now(UTC))
        try:
            response = await self._client.post(self.settings.endpoint, data=form)
        except httpx.HTTPError as e:
            return DeliveryResult(ok=False, retry=True, detail=f"sms: {type(e).__name__}")
        if response.status_code >= 500:
            return DeliveryResult(ok=False, retry=True, detail=f"sms: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return DeliveryResult(ok=False, retry=True, detail="sms: answer is not JSON")
        code = str(body.get("Code", "")) if isinstance(body, dict) else ""
        detail = f"sms {code} {body.get('Message', '')}"[:300] if isinstance(body, dict) else ""
        if code == "OK":
            return DeliveryResult(ok=True, platform_message_id=str(body.get("BizId") or "") or None)
        if code in LATER:
            return DeliveryResult(ok=False, retry=True, retry_after=LATER[code], detail=detail)
        if code in UNREACHABLE:
            log.info("sms to %s refused by the carrier: %s", mask_id(recipient.user_id), code)
            return DeliveryResult(ok=False, unreachable=True, detail=detail)
        log.error("sms gateway refused a message to %s: %s", mask_id(recipient.user_id), detail)
        return DeliveryResult(ok=False, detail=detail or f"sms: HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
