"""The Telegram channel: webhook and long polling in, aiogram's Bot out.

```mermaid
sequenceDiagram
    participant T as Telegram
    participant W as webhook / poller
    participant S as service
    participant O as outbox → TelegramNotifier
    T->>W: update (secret header checked in constant time)
    W->>T: getFile + download (a photo), stored as an attachment
    W->>S: receive (stored, unique per chat+message / callback id)
    W-->>T: 200 (fast)
    W->>S: process (background, in order per chat)
    W->>T: answerCallbackQuery (a button)
    W->>O: replies, card edits → outbox (rate limits, retries, no duplicates)
```

Our SessionStore holds all conversation state; aiogram is used as the client and the types
only (no Dispatcher, no FSM). Binding a worker (``/start bind-<code>``) is stored, redeemed and
answered in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import json
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import Update
from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import ValidationError

from bot.binding import redeem_bind_code
from bot.channels.base import image_mime, store_image
from bot.channels.telegram_updates import Incoming, Membership, PhotoRef, parse_update
from bot.config import Settings, TelegramSettings
from bot.notify.ratelimit import SendRateLimiter
from bot.notify.telegram import CHANNEL as NAME
from bot.notify.telegram import (
    CLEAR_BUTTONS,
    CallbackCodec,
    CardSync,
    TelegramNotifier,
)
from handlers.codec import inbound_from_dict
from handlers.i18n import pick
from handlers.messages import Button, Inbound, Media, MediaKind, Outbound
from handlers.ports import Notifier
from handlers.privacy import mask_id
from handlers.service import inbound_to_dict, outbound_to_dict
from handlers.worker import Command, parse_button

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger("minhu.telegram")

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
SEEN_TTL = 7 * 24 * 3600  # Telegram retries an update for far less than a week
MAX_BODY = 1024 * 1024
MAX_CONCURRENT = 16  # updates processed at once per process (the database pool is 20)
# every action a task card offers (handlers.notices.task_buttons): a reply under the card
# repeating any of them for the same ticket shows the card's buttons twice
_CARD_ACTIONS = frozenset(c.value for c in Command)
FORWARD_YES = "fwd:"  # + the id of the stored forwarded message: "yes, file it as mine"
FORWARD_NO = "fwd_no"

TEXTS: dict[str, dict[str, str]] = {
    "forward_ask": {
        "zh": "这是一条转发的消息。为免误报，转发的内容不会直接登记成您的报事。\n"
        "这是您本人要反映的问题吗？",
        "en": "This message was forwarded, so it is not filed as your own report "
        "straight away.\nIs it a problem you want to report?",
    },
    "forward_yes": {"zh": "是，按这条报事", "en": "Yes, report it"},
    "forward_no": {"zh": "不是", "en": "No"},
    "forward_dropped": {
        "zh": "好的，这条转发的消息不登记。有问题随时告诉我。",
        "en": "OK, the forwarded message is not filed. Write any time you need help.",
    },
    "forward_gone": {
        "zh": "这条转发的消息已经处理过了。",
        "en": "That forwarded message was handled already.",
    },
    "foreign_contact": {
        "zh": "收到的是别人的名片。为保护隐私，我们只记录您本人的手机号："
        "请点“分享我的手机号”，或直接输入号码。",
        "en": "That is someone else's contact. To protect privacy we only keep your own "
        "number: tap “Share my phone number” or type it.",
    },
}


def make_bot(settings: TelegramSettings) -> Bot:
    """aiogram's Bot on an aiohttp session pointed at ``api_base`` (the fake server in tests)."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.api_base),
        timeout=settings.request_timeout_seconds,
    )
    return Bot(token=settings.token.get_secret_value(), session=session)


@dataclass(frozen=True, slots=True)
class _Job:
    inbound_id: int
    msg: Inbound
    incoming: Incoming


class TelegramRuntime:
    """Everything the channel holds while running: the Bot, the notifier, card sync."""

    def __init__(self, container: Container, settings: TelegramSettings) -> None:
        self.container = container
        self.settings = settings
        self.bot = make_bot(settings)
        self.codec = CallbackCodec(container.sessions)
        self.limiter = SendRateLimiter(
            container.sessions,
            namespace="telegram:rate:",
            per_second=settings.messages_per_second,
            recipient_interval=settings.chat_interval_seconds,
        )
        self.notifier = TelegramNotifier(
            self.bot,
            store=container.store,
            sessions=container.sessions,
            clock=container.clock,
            limiter=self.limiter,
            codec=self.codec,
            max_wait=min(3.0, container.settings.outbox_send_timeout_seconds / 2),
            request_timeout=settings.request_timeout_seconds,
        )
        self.cards = CardSync(container.store, container.clock, self.codec)
        self._chains: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    # --- updates in ---------------------------------------------------------------------

    async def handle_update(self, update: Update) -> None:
        """Store what the update says and schedule its processing; returns quickly.

        Raises:
            StorageError, TelegramAPIError: nothing was stored; the webhook answers with an
                error so Telegram delivers the update again (the poller retries it).
        """
        sessions = self.container.sessions
        seen_key = f"telegram:update:{update.update_id}"
        if await sessions.get_value(seen_key) is not None:
            return
        parsed = parse_update(update, max_photo_bytes=self.settings.max_photo_bytes)
        if isinstance(parsed, Membership):
            async with self.container.store.unit() as uow:
                await uow.registry.set_reachable(NAME, parsed.user_id, parsed.reachable)
            log.info("telegram user %s reachable=%s", mask_id(parsed.user_id), parsed.reachable)
        elif isinstance(parsed, Incoming):
            await self._incoming(parsed)
        # marked only once stored: an update that failed above is processed when redelivered
        await sessions.set_value(seen_key, "1", ttl_seconds=SEEN_TTL)

    async def _incoming(self, incoming: Incoming) -> None:
        if incoming.bind_code is not None:
            await self._bind(incoming)
            return
        button = incoming.button
        if incoming.callback_id is not None:
            button = await self.codec.decode(button or "")
        if button is not None and (button == FORWARD_NO or button.startswith(FORWARD_YES)):
            await self._forward_answer(incoming, button)
            return
        if incoming.foreign_contact:
            placeholder = Inbound(
                channel=NAME,
                user_id=incoming.user_id,
                message_id=incoming.message_id,
                text="[contact of someone else]",  # their number is not ours to keep
                locale=incoming.locale,
            )
            reply = Outbound(text=pick(TEXTS["foreign_contact"], incoming.locale))
            await self._answer_stored(incoming, placeholder, reply)
            return
        media: tuple[Media, ...] = ()
        if incoming.photo is not None:
            media = (await self._fetch_photo(incoming, incoming.photo),)
        elif incoming.other_media is not None:
            media = (Media(incoming.other_media, "telegram:unsupported"),)
        msg = Inbound(
            channel=NAME,
            user_id=incoming.user_id,
            message_id=incoming.message_id,
            text=incoming.text,
            button=button,
            media=media,
            location=incoming.location,
            contact_phone=incoming.contact_phone,
            locale=incoming.locale,
            reply_to=incoming.reply_to,
        )
        if incoming.forwarded and not await self._dangerous(msg.text):
            # someone else's words: ask before filing them as the sender's report. A danger
            # is never held back by the question: it goes to the dialogue (advice, urgent)
            ask = Outbound(
                text=pick(TEXTS["forward_ask"], incoming.locale),
                buttons=(
                    Button(pick(TEXTS["forward_yes"], incoming.locale), FORWARD_YES),
                    Button(pick(TEXTS["forward_no"], incoming.locale), FORWARD_NO),
                ),
            )
            await self._answer_stored(incoming, msg, ask, link_yes=True)
            return
        receipt = await self.container.service.receive(msg)
        if not receipt.new:
            # a repeat of something already stored: it was or is being answered once
            if incoming.callback_id is not None:
                await self._answer(incoming.callback_id, "")
            return
        self._schedule(_Job(receipt.inbound_id, msg, incoming))

    async def _dangerous(self, text: str) -> bool:
        if not text.strip():
            return False
        parse = await self.container.service.interpreter.parse(text)
        return bool(parse.hazards)

    async def _answer_stored(
        self, incoming: Incoming, msg: Inbound, reply: Outbound, *, link_yes: bool = False
    ) -> None:
        """Store the message (persist first) and answer it without a dialogue turn.

        ``link_yes``: the reply's "yes" button names the stored message, so pressing it
        files exactly that message. Not journaled while PostgreSQL is down (draining it would
        give it a dialogue turn): the update is refused and Telegram delivers it again.
        """
        receipt = await self.container.service.receive(msg, journal=False)
        if not receipt.new:
            if incoming.callback_id is not None:
                await self._answer(incoming.callback_id, "")
            return
        if link_yes:
            buttons = tuple(
                Button(b.title, f"{FORWARD_YES}{receipt.inbound_id}")
                if b.payload == FORWARD_YES
                else b
                for b in reply.buttons
            )
            reply = Outbound(text=reply.text, buttons=buttons)
        now = self.container.clock.now()
        chat = str(incoming.chat_id)
        async with self.container.store.unit() as uow:
            await uow.inbound.update(
                receipt.inbound_id, status="done", now=now, replies=[outbound_to_dict(reply)]
            )
            if incoming.source_message_id is not None:
                source = {"message_id": str(incoming.source_message_id)}
                clear = Outbound(text="", kind=CLEAR_BUTTONS, data=source)
                await uow.outbox.enqueue(NAME, chat, outbound_to_dict(clear), now=now)
            await uow.outbox.enqueue(NAME, chat, outbound_to_dict(reply), now=now)
        if incoming.callback_id is not None:
            await self._answer(incoming.callback_id, "")
        self.container.dispatcher.kick()

    async def _forward_answer(self, incoming: Incoming, button: str) -> None:
        """The answer to "is this forwarded message your own report?"."""
        forwarded: Inbound | None = None
        ident = button.removeprefix(FORWARD_YES)
        if button.startswith(FORWARD_YES) and ident.isdigit():
            async with self.container.store.unit() as uow:
                row = await uow.inbound.get(int(ident))
            # answered once: a second press (an old client still showing the buttons) is void
            if (
                row is not None
                and row.channel == NAME
                and row.user_id == incoming.user_id
                and await self.container.sessions.claim(
                    f"telegram:forwarded:{ident}", ttl_seconds=SEEN_TTL
                )
            ):
                forwarded = inbound_from_dict(row.payload)
        if forwarded is None:
            key = "forward_dropped" if button == FORWARD_NO else "forward_gone"
            msg = Inbound(
                channel=NAME,
                user_id=incoming.user_id,
                message_id=incoming.message_id,
                button=button,
                locale=incoming.locale,
            )
            reply = Outbound(text=pick(TEXTS[key], incoming.locale))
            await self._answer_stored(incoming, msg, reply)
            return
        # yes: the forwarded words (and photo) become the sender's own message, once — the
        # press is its own stored message, de-duplicated by the callback id
        msg = replace(
            forwarded, message_id=incoming.message_id, reply_to=None, locale=incoming.locale
        )
        receipt = await self.container.service.receive(msg)
        if not receipt.new:
            await self._answer(incoming.callback_id or "", "")
            return
        self._schedule(_Job(receipt.inbound_id, msg, incoming))

    async def _fetch_photo(self, incoming: Incoming, photo: PhotoRef) -> Media:
        """Download the photo through getFile and keep it as an attachment."""
        limit = self.settings.max_photo_bytes
        try:
            info = await self.bot.get_file(photo.file_id)
            if info.file_path is None or (info.file_size or 0) > limit:
                raise ValueError("no file path or too large")
            buffer = io.BytesIO()
            await self.bot.download_file(
                info.file_path, buffer, timeout=int(self.settings.request_timeout_seconds)
            )
        except (TelegramBadRequest, TelegramNotFound, ValueError) as e:
            # a file Telegram will never give us: the dialogue answers that it could not use it
            log.warning("telegram photo unavailable for %s: %s", mask_id(incoming.user_id), e)
            return Media(MediaKind.IMAGE, "telegram:unavailable")
        content = buffer.getvalue()
        mime = image_mime(content, webp=True)
        if mime is None or len(content) > limit:
            return Media(MediaKind.IMAGE, "telegram:unavailable")
        ident = await store_image(
            self.container,
            content,
            mime,
            uploader=f"{NAME}:{incoming.user_id}",
            filename=photo.file_id[:60],
        )
        return Media(MediaKind.IMAGE, f"attachment:{ident}", mime, incoming.text[:200])

    async def _bind(self, incoming: Incoming) -> None:
        """``/start bind-<code>``: record, redeem and answer in one transaction."""
        now = self.container.clock.now()
        # the code itself is a secret: the inbound log keeps that a binding was tried, not it
        msg = Inbound(
            channel=NAME,
            user_id=incoming.user_id,
            message_id=incoming.message_id,
            text="/start bind-…",
            locale=incoming.locale,
        )
        async with self.container.store.unit() as uow:
            row, new = await uow.inbound.record(
                NAME, msg.message_id, msg.user_id, inbound_to_dict(msg), now=now
            )
            if not new or row.id is None:
                return
            result = await redeem_bind_code(
                uow, incoming.bind_code or "", channel=NAME, user_id=incoming.user_id, now=now
            )
            reply = Outbound(text=result.reply(incoming.locale))
            await uow.inbound.update(
                row.id, status="done", now=now, replies=[outbound_to_dict(reply)], intent="bind"
            )
            await uow.outbox.enqueue(NAME, str(incoming.chat_id), outbound_to_dict(reply), now=now)
        log.info("telegram bind attempt by %s: %s", mask_id(incoming.user_id), result.outcome)
        self.container.dispatcher.kick()

    # --- processing in the background -------------------------------------------------------

    def _schedule(self, job: _Job) -> None:
        """Process in the background, one update after the other within a chat."""
        chat = job.incoming.chat_id
        previous = self._chains.get(chat)
        task = self.container.spawn(self._run(previous, job), f"telegram-{chat}")
        self._chains[chat] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._chains.get(chat) is done:
                del self._chains[chat]

        task.add_done_callback(forget)

    async def _run(self, previous: asyncio.Task[None] | None, job: _Job) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        async with self._slots:
            try:
                await self._process(job)
            except Exception:  # the message is stored; recovery re-processes failures
                log.exception("telegram processing failed for %s", mask_id(job.incoming.user_id))

    async def _process(self, job: _Job) -> None:
        incoming = job.incoming
        replies = await self.container.service.process(job.inbound_id, job.msg)
        chat = str(incoming.chat_id)
        card = None
        if incoming.source_message_id is not None:
            async with self.container.store.unit() as uow:
                card = await uow.cards.for_message(NAME, chat, str(incoming.source_message_id))
        if incoming.callback_id is not None:
            toast = replies[0].text.split("\n", 1)[0][:190] if replies and card else ""
            await self._answer(incoming.callback_id, toast)
        try:
            await self.cards.run_once(recipient=chat)
        except Exception:
            log.exception("task card refresh failed for %s", mask_id(chat))
        number = ""
        if card is not None:
            command = parse_button(job.msg.button or "")
            number = (command.number or "") if command else ""
        now = self.container.clock.now()
        async with self.container.store.unit() as uow:
            if incoming.source_message_id is not None and card is None:
                # a choice was made: take the buttons off the message so it is not made twice
                clear = Outbound(
                    text="",
                    kind=CLEAR_BUTTONS,
                    data={"message_id": str(incoming.source_message_id)},
                )
                await uow.outbox.enqueue(NAME, chat, outbound_to_dict(clear), now=now)
            for reply in replies:
                if number and _only_card_buttons(reply, number):
                    reply = Outbound(text=reply.text, kind=reply.kind, data=reply.data)
                await uow.outbox.enqueue(NAME, chat, outbound_to_dict(reply), now=now)
        self.container.dispatcher.kick()

    async def _answer(self, callback_id: str, text: str) -> None:
        """Stop the button's spinner (best effort: an old query can no longer be answered)."""
        try:
            await self.bot.answer_callback_query(callback_id, text=text or None)
        except TelegramAPIError as e:
            log.info("callback query not answered: %s", e.message)

    # --- card refresh loop, polling -------------------------------------------------------

    async def sync_cards_forever(self) -> None:
        """Catch card changes made elsewhere (other processes, the admin console, residents)."""
        while True:
            try:
                while await self.cards.run_once() > 0:
                    self.container.dispatcher.kick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task card sync failed; retrying")
            await asyncio.sleep(self.settings.card_sync_seconds)

    async def poll(self, *, stop: asyncio.Event | None = None) -> None:
        """Long polling (``getUpdates``) for a bot without a public webhook URL."""
        stop = stop or asyncio.Event()
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        backoff = 1.0
        timeout = self.settings.poll_timeout_seconds
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=timeout + int(self.settings.request_timeout_seconds),
                )
            except TelegramUnauthorizedError:
                log.error("Telegram rejected the bot token (401); polling stops")
                raise
            except TelegramConflictError as e:
                log.error("getUpdates conflict (another poller running?): %s", e.message)
                await _pause(stop, 10.0)
                continue
            except TelegramRetryAfter as e:
                await _pause(stop, float(e.retry_after))
                continue
            except TelegramAPIError as e:
                log.warning("getUpdates failed: %s; retrying in %.0f s", e.message, backoff)
                await _pause(stop, backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            for update in updates:
                try:
                    await self.handle_update(update)
                except Exception:
                    # not confirmed: getUpdates returns it again after the pause
                    log.exception("telegram update %s not stored; retrying", update.update_id)
                    await _pause(stop, 2.0)
                    break
                offset = update.update_id + 1

    async def close(self) -> None:
        await self.bot.session.close()


COMMAND_MENU: dict[str, list[tuple[str, str]]] = {
    "zh": [
        ("start", "开始 / 使用帮助"),
        ("report", "我要报事"),
        ("status", "我的工单进度"),
        ("cancel", "取消正在填写的报事"),
        ("tasks", "网格员：我的待办"),
        ("help", "使用帮助"),
    ],
    "en": [
        ("start", "Start / help"),
        ("report", "Report a problem"),
        ("status", "My reports"),
        ("cancel", "Cancel the report in progress"),
        ("tasks", "Grid workers: my open tasks"),
        ("help", "Help"),
    ],
}


async def publish_commands(bot: Bot) -> None:
    """The command menu Telegram shows beside the input field (Chinese, English for en)."""
    from aiogram.types import BotCommand

    for locale, commands in COMMAND_MENU.items():
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands],
            language_code=None if locale == "zh" else locale,
        )


def _only_card_buttons(reply: Outbound, number: str) -> bool:
    """A reply whose buttons repeat the task card's own (the card now shows them anyway)."""
    if not reply.buttons:
        return False
    return all(b.payload in {f"{a}:{number}" for a in _CARD_ACTIONS} for b in reply.buttons)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


def runtime_of(container: Container) -> TelegramRuntime:
    runtime = container.extras.get(NAME)
    if not isinstance(runtime, TelegramRuntime):
        raise HTTPException(503, "telegram channel not running")
    return runtime


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    secret = settings.telegram.webhook_secret if settings.telegram else None

    @router.post("/webhooks/telegram", tags=["telegram"])
    async def webhook(
        request: Request,
        x_telegram_bot_api_secret_token: str | None = Header(default=None),
    ) -> dict[str, bool]:
        """Telegram's webhook: secret header checked, update stored, processed afterwards."""
        given = (x_telegram_bot_api_secret_token or "").encode()
        expected = secret.get_secret_value().encode() if secret else b""
        # constant time; and without a configured secret the webhook is closed
        if not expected or not hmac.compare_digest(given, expected):
            raise HTTPException(403, "forbidden")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, "update too large")
        runtime = runtime_of(request.app.state.container)
        try:
            update = Update.model_validate(json.loads(body), context={"bot": runtime.bot})
        except (ValueError, ValidationError) as e:
            raise HTTPException(400, "not a Telegram update") from e
        try:
            await runtime.handle_update(update)
        except TelegramAPIError as e:  # fetching a photo failed: let Telegram send it again
            log.warning("telegram update %s deferred: %s", update.update_id, e.message)
            raise HTTPException(503, "temporarily unavailable, retry") from e
        return {"ok": True}

    return router


class TelegramChannel:
    name = NAME

    def enabled(self, settings: Settings) -> bool:
        return settings.telegram is not None

    def notifier(self, container: Container) -> Notifier | None:
        settings = container.settings.telegram
        if settings is None:
            return None
        runtime = TelegramRuntime(container, settings)
        container.extras[NAME] = runtime
        # owns the HTTP session: closed when the container cancels its tasks at shutdown
        # (also in `minhu chat`, which delivers the outbox without starting the channels)
        container.spawn(_hold(runtime), "telegram-session")
        return runtime.notifier

    def router(self, settings: Settings) -> APIRouter | None:
        return build_router(settings)

    async def start(self, container: Container) -> None:
        runtime = container.extras.get(NAME)
        if isinstance(runtime, TelegramRuntime):
            container.spawn(runtime.sync_cards_forever(), "telegram-cards")


async def _hold(runtime: TelegramRuntime) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await runtime.close()


CHANNEL = TelegramChannel()
