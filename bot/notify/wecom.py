"""WeCom (企业微信) application messages: a second place where grid workers get their tasks.

Notification only: the worker reads the task in WeCom and acts where Minhu listens (the
official account or the web chat), so the message says so instead of offering numbers.
A worker bound to channel ``wecom`` (``minhu wechat bind-worker --wecom-user <userid>``) is
reached here when WeCom is their preferred channel or when their WeChat is unreachable.

wechatpy's WeCom client (``wechatpy.enterprise``) is synchronous: every call runs in a worker
thread (``asyncio.to_thread``) with a request timeout. WeCom's ``gettoken`` hands out the same
token while it is valid, so a per-process token does not disturb other replicas.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.config import WeComSettings
from handlers.messages import Outbound
from handlers.ports import DeliveryResult, Recipient
from handlers.privacy import mask_id

log = logging.getLogger("minhu.wecom")

NAME = "wecom"
FOOTER = "（企业微信仅作提醒，请在“民呼”公众号或网页工作台回复指令处理）"
UNREACHABLE = {
    60111: "no such member",
    81013: "not a visible member of the application",
    60011: "no permission for this member",
}
LATER = {45009: 600.0, 45033: 30.0, -1: 30.0}


class _TimeoutSession(requests.Session):
    """wechatpy fetches tokens without a timeout: give every request one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = kwargs.get("timeout") or self._timeout
        return super().request(method, url, *args, **kwargs)


class WeComClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's WeCom client pointed at a configurable API root (proxies, tests)."""

    def __init__(self, corp_id: str, secret: str, *, base: str, timeout: float) -> None:
        super().__init__(corp_id, secret, timeout=timeout)
        self._base = base.rstrip("/")
        self.API_BASE_URL = self._base + "/cgi-bin/"
        self._http = _TimeoutSession(timeout)

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self._base + "/cgi-bin/gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )


def wecom_text(message: Outbound, photo_link: Any = None) -> str:
    """The message as WeCom text: no numbered choices (WeCom replies do not reach Minhu)."""
    lines = [message.text.rstrip()]
    if message.image and photo_link is not None and (url := photo_link(message.image)):
        lines.append(f"现场照片：{url}")
    lines.append(FOOTER)
    return "\n".join(lines)


class WeComNotifier:
    """`handlers.ports.Notifier` for WeCom application messages (never raises)."""

    channel = NAME

    def __init__(self, settings: WeComSettings, *, photo_link: Any = None) -> None:
        self.settings = settings
        self.photo_link = photo_link
        self.client = WeComClient(
            settings.corp_id,
            settings.secret.get_secret_value(),
            base=settings.api_base,
            timeout=settings.timeout_seconds,
        )

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        body = {"msgtype": "text", "text": {"content": wecom_text(message, self.photo_link)}}
        try:
            result = await asyncio.to_thread(
                self.client.message.send, self.settings.agent_id, recipient.user_id, msg=body
            )
        except WeChatClientException as e:
            return self._failure(e, recipient.user_id)
        except requests.RequestException as e:
            return DeliveryResult(ok=False, retry=True, detail=f"wecom: {type(e).__name__}")
        if isinstance(result, dict) and result.get("invaliduser"):
            # WeCom answers 0 and lists the members it could not reach
            return DeliveryResult(ok=False, unreachable=True, detail="wecom: invalid user")
        msgid = str(result.get("msgid", "")) if isinstance(result, dict) else ""
        return DeliveryResult(ok=True, platform_message_id=msgid or None)

    def _failure(self, error: WeChatClientException, user_id: str) -> DeliveryResult:
        code = error.errcode
        detail = f"wecom {code} {error.errmsg}"[:300]
        if code is None:  # HTTP error status
            return DeliveryResult(ok=False, retry=True, detail="wecom: HTTP error")
        if code in UNREACHABLE:
            log.info("wecom member %s unreachable: %s", mask_id(user_id), UNREACHABLE[code])
            return DeliveryResult(ok=False, unreachable=True, detail=detail)
        if code in LATER:
            return DeliveryResult(ok=False, retry=True, retry_after=LATER[code], detail=detail)
        if code in (40001, 40014, 42001):  # still refused after wechatpy's own refresh
            return DeliveryResult(ok=False, retry=True, retry_after=30.0, detail=detail)
        log.error("wecom refused a message to %s: %s", mask_id(user_id), detail)
        return DeliveryResult(ok=False, detail=detail)
