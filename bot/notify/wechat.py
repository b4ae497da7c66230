"""Pushed messages on WeChat: customer-service messages inside the 48-hour window, template
messages outside it (and for workers' task cards), WeChat's error codes mapped to what the
outbox should do.

WeChat only lets an account message a user freely for 48 hours after the user last wrote
(ChannelIdentity.last_inbound_at, touched on every inbound). After that only template
messages reach them, with the fields and ids configured in ``MINHU_WECHAT__TEMPLATE_*``.
"""

from __future__ import annotations

import functools
import logging
import string
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.config import WeChatSettings
from bot.wechat.api import TOKEN_ERRORS, WeChatApi, WeChatApiError, WeChatError
from bot.wechat.render import CUSTOM_MAX_BYTES, Choices, options_line, render, split
from handlers.messages import Outbound
from handlers.notices import LOCAL_TZ
from handlers.ports import Clock, DeliveryResult, Recipient
from handlers.privacy import mask_id
from storage.errors import StorageError
from storage.interfaces import SessionStore, Store

log = logging.getLogger("minhu.wechat.notify")

WINDOW = timedelta(hours=48) - timedelta(minutes=10)  # keep a margin against clock skew
WORKER_KINDS = frozenset({"task_card", "worker_notice", "callback_request"})
SENT_TTL_SECONDS = 2 * 24 * 3600
TEMPLATE_VALUE_MAX = 200

UNREACHABLE = {
    43004: "the user does not follow the account",
    43019: "the user blocked the account",
    43101: "the user refused this kind of message",
    40003: "invalid openid",
}
LATER = {  # errcode → seconds to wait
    45009: 600.0,  # daily API quota used up
    45011: 60.0,  # per-minute API quota
    45047: 1800.0,  # 20 customer-service messages without a reply from the user
    -1: 30.0,  # system busy
}
WINDOW_CLOSED = 45015
TOO_MANY_CUSTOM = 45047


class _Blank(dict[str, str]):
    """format_map values: a field a message lacks renders as an empty string."""

    def __missing__(self, key: str) -> str:
        return ""


def template_data(
    mapping: Mapping[str, str], fields: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Fill a template's fields from the message's fields (``{description:.20}`` truncates)."""
    values = _Blank(fields)
    data: dict[str, dict[str, str]] = {}
    for name, pattern in mapping.items():
        try:
            value = string.Formatter().vformat(pattern, (), values)
        except (ValueError, IndexError, AttributeError, KeyError):
            value = ""  # a broken pattern must not stop the delivery
        data[name] = {"value": value[:TEMPLATE_VALUE_MAX]}
    return data


class WeChatNotifier:
    """`handlers.ports.Notifier` for the official account (never raises)."""

    channel = "wechat"

    def __init__(
        self,
        *,
        settings: WeChatSettings,
        api: WeChatApi,
        store: Store,
        sessions: SessionStore,
        clock: Clock,
        choices: Choices,
        photo_link: Callable[[str], str | None],
    ) -> None:
        self.settings = settings
        self.api = api
        self.store = store
        self.sessions = sessions
        self.clock = clock
        self.choices = choices
        self.photo_link = photo_link

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        try:
            return await self._send(recipient.user_id, message, key)
        except StorageError as e:
            return DeliveryResult(ok=False, retry=True, detail=f"storage: {e}"[:300])
        except Exception as e:  # a notifier must not raise; the outbox retries it
            log.exception("wechat delivery to %s failed", mask_id(recipient.user_id))
            return DeliveryResult(ok=False, retry=True, detail=type(e).__name__)

    async def _send(self, openid: str, message: Outbound, key: str) -> DeliveryResult:
        async with self.store.unit() as uow:
            ident = await uow.registry.identity(self.channel, openid)
        if ident is not None and not ident.reachable:
            return DeliveryResult(ok=False, unreachable=True, detail="user unsubscribed")
        last = ident.last_inbound_at if ident is not None else None
        window_open = last is not None and self.clock.now() - last < WINDOW
        template = self._template(message)
        if message.kind == "task_card" and template is not None:
            return await self._template_send(openid, message, template)
        if window_open:
            try:
                return await self._custom(openid, message, key)
            except WeChatApiError as e:
                if e.errcode in (WINDOW_CLOSED, TOO_MANY_CUSTOM) and template is not None:
                    return await self._template_send(openid, message, template)
                if e.errcode == WINDOW_CLOSED:
                    detail = f"{e.errcode} {e.errmsg}; no template message configured"
                    return DeliveryResult(
                        ok=False, unreachable=True, until_they_write=True, detail=detail[:300]
                    )
                return self._failure(e, openid)
            except WeChatError as e:
                return self._failure(e, openid)
        if template is not None:
            return await self._template_send(openid, message, template)
        return DeliveryResult(
            ok=False,
            unreachable=True,
            until_they_write=True,  # writing again opens the window
            detail="48-hour window closed and no template message configured",
        )

    def _template(self, message: Outbound) -> tuple[str, Mapping[str, str]] | None:
        if message.kind in WORKER_KINDS:
            if self.settings.template_task:
                return self.settings.template_task, self.settings.template_task_fields
            return None
        if self.settings.template_progress:
            return self.settings.template_progress, self.settings.template_progress_fields
        return None

    # --- customer-service messages ------------------------------------------------------------

    async def _custom(self, openid: str, message: Outbound, key: str) -> DeliveryResult:
        """Send as customer-service message(s). Raises WeChatError."""
        parts, options = split([message], first_max=CUSTOM_MAX_BYTES)
        for index, part in enumerate(parts):
            body = {"touser": openid, "msgtype": "text", "text": {"content": part}}
            await self._once(key, index, functools.partial(self.api.send_custom, body))
        if message.image:
            image = message.image
            await self._once(key, len(parts), lambda: self._send_image(openid, image))
        if options:
            await self.choices.remember(openid, options)
        return DeliveryResult(ok=True)

    async def _once(self, key: str, index: int, send: Callable[[], Awaitable[None]]) -> None:
        """Send one part unless an earlier attempt of this outbox item already did."""
        marker = f"wechat:sent:{key}:{index}"
        if await self.sessions.get_value(marker):
            return
        await send()
        await self.sessions.set_value(marker, "1", ttl_seconds=SENT_TTL_SECONDS)

    async def _send_image(self, openid: str, ref: str) -> None:
        if not ref.startswith("attachment:") or not ref.removeprefix("attachment:").isdigit():
            return
        async with self.store.unit() as uow:
            item = await uow.attachments.get(int(ref.removeprefix("attachment:")))
            content = await uow.attachments.content(item) if item is not None else b""
        if item is None or not content:
            return
        media_id = await self.api.upload_image(content, item.mime, item.filename or "photo")
        await self.api.send_custom(
            {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}}
        )

    # --- template messages -------------------------------------------------------------------

    def _fields(self, message: Outbound) -> dict[str, str]:
        lines = [line for line in message.text.splitlines() if line.strip()]
        fields = {
            "text": message.text,
            "title": lines[0] if lines else "",
            "time": self.clock.now().astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
            "options": options_line(message),
        }
        fields.update(message.data)
        return fields

    async def _template_send(
        self, openid: str, message: Outbound, template: tuple[str, Mapping[str, str]]
    ) -> DeliveryResult:
        template_id, mapping = template
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": template_data(mapping, self._fields(message)),
        }
        if message.image:
            url = self.photo_link(message.image)
            if url:
                body["url"] = url
        try:
            msgid = await self.api.send_template(body)
        except WeChatError as e:
            return self._failure(e, openid)
        options = render(message).options
        if options:
            await self.choices.remember(openid, options)
        return DeliveryResult(ok=True, platform_message_id=msgid)

    # --- errors --------------------------------------------------------------------------

    def _failure(self, error: WeChatError, openid: str) -> DeliveryResult:
        if not isinstance(error, WeChatApiError):
            return DeliveryResult(ok=False, retry=True, detail=str(error)[:300])
        code = error.errcode
        detail = f"{code} {error.errmsg}"[:300]
        if code in UNREACHABLE:
            log.info("wechat user %s unreachable: %s", mask_id(openid), UNREACHABLE[code])
            return DeliveryResult(ok=False, unreachable=True, detail=detail)
        if code in LATER:
            return DeliveryResult(ok=False, retry=True, retry_after=LATER[code], detail=detail)
        if code in TOKEN_ERRORS:  # still rejected after a refresh: try again a bit later
            return DeliveryResult(ok=False, retry=True, retry_after=30.0, detail=detail)
        log.error("wechat refused a message to %s: %s", mask_id(openid), detail)
        return DeliveryResult(ok=False, detail=detail)
