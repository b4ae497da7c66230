"""Telegram transport: renders `Outbound` for Telegram and sends it through aiogram's Bot.

* Buttons become inline keyboards; a payload longer than Telegram's 64-byte ``callback_data``
  is replaced by a short alias kept in the SessionStore (`CallbackCodec`).
* A question asking for the building or the phone gets a reply keyboard with Telegram's native
  "send my location" / "share my phone number" button instead.
* Task cards (``kind="task_card"``) are rendered from their structured ``data`` (HTML), sent as
  a photo with a caption when the ticket has one, and remembered (`TaskCard`) so the card can be
  edited in place later (`CardSync`) and a reply to it can be mapped to its ticket.
* Sends respect the rate limits (`SendRateLimiter`), report 429 ``retry_after`` and 403
  (blocked) in the `DeliveryResult`, and never send one outbox item twice (sent keys are kept
  in the SessionStore, so a retry after a crash between "sent" and "recorded" is a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.notify.ratelimit import SendRateLimiter
from handlers.i18n import pick
from handlers.messages import Button, Outbound
from handlers.notices import ticket_facts, worker_card
from handlers.ports import Clock, DeliveryResult, Recipient
from handlers.privacy import mask_id
from handlers.service import outbound_to_dict
from handlers.ticket_service import with_accept_deadline
from storage.errors import StorageError
from storage.interfaces import SessionStore, Store, UnitOfWork
from storage.models import TaskCard, Ticket

log = logging.getLogger("minhu.telegram")

CHANNEL = "telegram"
MESSAGE_LIMIT = 4096  # characters of a text message
CAPTION_LIMIT = 1024  # characters of a photo caption
CALLBACK_LIMIT = 64  # bytes of callback_data
CALLBACK_ALIAS = "h:"
CALLBACK_TTL = 90 * 24 * 3600  # an aliased button keeps working for 90 days
SENT_TTL = 7 * 24 * 3600
UNDER_WAY_RETRY = 2.0  # seconds: when to look again at an item whose earlier send may still run
CARD_WINDOW = timedelta(days=30)  # cards older than this are no longer edited
# Outbound kinds this transport adds for itself (queued through the outbox like any message)
CLEAR_BUTTONS = "telegram_clear_buttons"
EDIT_ID = "edit_message_id"
EDIT_MEDIA = "edit_media"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove

LABELS: dict[str, dict[str, str]] = {
    "status": {"zh": "状态", "en": "Status"},
    "location": {"zh": "地点", "en": "Where"},
    "description": {"zh": "居民描述", "en": "Resident says"},
    "plate": {"zh": "车牌", "en": "Plate"},
    "photos": {"zh": "照片", "en": "Photos"},
    "phone": {"zh": "联系电话", "en": "Phone"},
    "time": {"zh": "上报时间", "en": "Reported"},
    "sla": {"zh": "响应时限", "en": "Respond"},
    "last_note": {"zh": "最新进展", "en": "Latest"},
    "urgent": {"zh": "【紧急】", "en": " [URGENT]"},
    "no_phone": {"zh": "未留", "en": "not given"},
    "photo_count": {"zh": "{count}张", "en": "{count}"},
    "send_location": {"zh": "📍 发送我的位置", "en": "📍 Send my location"},
    "share_phone": {"zh": "📱 发送我的手机号", "en": "📱 Share my phone number"},
}


def label(key: str, locale: str) -> str:
    return pick(LABELS[key], locale)


# --- callback data ---------------------------------------------------------------------------


class CallbackCodec:
    """Fits button payloads into Telegram's 64-byte ``callback_data``.

    Short payloads (nearly all: ``accept:MH-20261122-0001``) travel as they are. A longer one
    (a transfer to a grid with a long name) travels as ``h:<hash>`` and is looked up again in
    the SessionStore; an alias that expired comes back unchanged and the dialogue answers it
    like any stale button, politely and without effect.
    """

    def __init__(self, sessions: SessionStore, *, namespace: str = "telegram:cb:") -> None:
        self.sessions = sessions
        self.namespace = namespace

    async def encode(self, payload: str) -> str:
        if len(payload.encode()) <= CALLBACK_LIMIT and not payload.startswith(CALLBACK_ALIAS):
            return payload
        alias = CALLBACK_ALIAS + hashlib.sha256(payload.encode()).hexdigest()[:32]
        await self.sessions.set_value(self.namespace + alias, payload, ttl_seconds=CALLBACK_TTL)
        return alias

    async def decode(self, data: str) -> str:
        if not data.startswith(CALLBACK_ALIAS):
            return data
        return await self.sessions.get_value(self.namespace + data) or data

    async def encode_all(self, buttons: Sequence[Button]) -> dict[str, str]:
        return {b.payload: await self.encode(b.payload) for b in buttons}


# --- rendering (pure) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as Telegram will show it."""

    text: str
    html: bool = False
    markup: Markup | None = None
    image: int | None = None  # attachment id: sent as a photo with ``text`` as caption

    def fingerprint(self) -> str:
        markup = self.markup.model_dump_json(exclude_none=True) if self.markup else ""
        return hashlib.sha256(f"{self.text}\x00{markup}".encode()).hexdigest()


def attachment_id(ref: str | None) -> int | None:
    if ref and ref.startswith("attachment:") and ref.removeprefix("attachment:").isdigit():
        return int(ref.removeprefix("attachment:"))
    return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def card_html(data: Mapping[str, str], *, limit: int = MESSAGE_LIMIT) -> str:
    """A task card from its structured data; the resident's words are shortened to fit."""
    locale = data.get("locale") or "zh"
    title = f"{data.get('number', '')} {data.get('category', '')}".strip()
    urgent = label("urgent", locale) if data.get("priority") == "urgent" else ""
    photos = int(data.get("photos") or 0)
    fields: list[tuple[str, str]] = [
        ("status", data.get("status_text", "")),
        ("location", data.get("location", "")),
        ("description", data.get("description", "")),
        ("plate", data.get("plate", "")),
        ("photos", label("photo_count", locale).format(count=photos) if photos else ""),
        ("phone", data.get("phone") or label("no_phone", locale)),
        ("time", data.get("time", "")),
        ("sla", data.get("sla", "") if not data.get("handed_over") else ""),
        ("last_note", data.get("last_note", "")),
    ]
    fields = [(k, v) for k, v in fields if v]
    prefix = data.get("prefix", "")
    sep = "：" if locale == "zh" else ": "
    visible = len(prefix) + len(title) + len(urgent) + 2
    visible += sum(len(label(k, locale)) + len(sep) + len(v) + 1 for k, v in fields)
    if visible > limit:  # only the free text can be long: shorten it
        fields = [
            (k, _clip(v, max(20, len(v) - (visible - limit))) if k == "description" else v)
            for k, v in fields
        ]
    lines = [html.escape(prefix, quote=False)] if prefix else []
    lines.append(f"<b>{html.escape(title, quote=False)}</b>{html.escape(urgent, quote=False)}")
    for key, value in fields:
        name = html.escape(label(key, locale), quote=False)
        lines.append(f"<b>{name}</b>{sep}{html.escape(value, quote=False)}")
    return "\n".join(lines)


def inline_keyboard(
    buttons: Sequence[Button], callback_data: Mapping[str, str]
) -> InlineKeyboardMarkup:
    """Short titles three to a row (the card's 接单 进展 办结 / 转派 联系居民), long ones alone."""
    per_row = 3 if all(len(b.title) <= 6 for b in buttons) else 1
    row: list[InlineKeyboardButton] = []
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        data = callback_data.get(button.payload, button.payload)
        row.append(InlineKeyboardButton(text=button.title, callback_data=data))
        if len(row) == per_row:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def ask_keyboard(ask: str, buttons: Sequence[Button], locale: str) -> ReplyKeyboardMarkup:
    """Telegram's native location / contact button, plus the question's 跳过 / 取消.

    Reply-keyboard buttons send their title as text; 跳过 and 取消 (Skip, Cancel) are words
    the dialogue understands as text, so nothing is lost by not sending their payloads.
    """
    if ask == "building":
        native = KeyboardButton(text=label("send_location", locale), request_location=True)
    else:
        native = KeyboardButton(text=label("share_phone", locale), request_contact=True)
    words = [KeyboardButton(text=b.title) for b in buttons if b.payload in ("skip", "cancel")]
    rows = [[native], words] if words else [[native]]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


def render(
    message: Outbound, callback_data: Mapping[str, str], *, as_caption: bool = False
) -> Rendered:
    """How one Outbound looks on Telegram (text, HTML or not, keyboard, photo)."""
    image = attachment_id(message.image)
    if message.kind == "task_card":
        limit = CAPTION_LIMIT if as_caption or image is not None else MESSAGE_LIMIT
        return Rendered(
            text=card_html(message.data, limit=limit),
            html=True,
            markup=inline_keyboard(message.buttons, callback_data) if message.buttons else None,
            image=image,
        )
    ask = message.data.get("ask", "")
    markup: Markup
    if ask in ("building", "phone"):
        markup = ask_keyboard(ask, message.buttons, message.data.get("locale") or "zh")
    elif message.buttons:
        markup = inline_keyboard(message.buttons, callback_data)
    else:
        # a message without choices also takes away a location/phone keyboard left open
        markup = ReplyKeyboardRemove(remove_keyboard=True)
    return Rendered(text=message.text, markup=markup, image=image)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    pieces.append(rest)
    return pieces


# --- task cards -------------------------------------------------------------------------


async def card_view(uow: UnitOfWork, card: TaskCard, ticket: Ticket) -> Outbound:
    """The card as its worker should see it now (status, latest note, buttons)."""
    attachments = await uow.attachments.for_ticket(ticket.id or 0)
    events = await uow.tickets.events(ticket.id or 0)
    notes = [e.note for e in events if e.kind in ("progress", "resolve") and e.note]
    holder = card.worker_id is None or ticket.assignee_id == card.worker_id
    assignee = ""
    if not holder and ticket.assignee_id is not None:
        worker = await uow.registry.worker(ticket.assignee_id)
        assignee = worker.name if worker else ""
    facts = await with_accept_deadline(uow, ticket_facts(ticket, photos=len(attachments)), ticket)
    view = worker_card(
        facts,
        holder=holder,
        assignee=assignee,
        last_note=notes[-1] if notes else "",
    )
    image = f"attachment:{attachments[0].id}" if card.media and attachments else None
    return replace(view, image=image)


def canonical(message: Outbound) -> Outbound:
    """A card without its one-off heading (【转派任务】...), as later refreshes render it."""
    return replace(message, data={**message.data, "prefix": ""})


class CardSync:
    """Edits task cards in place when their tickets change.

    Any change (a worker's button, a rating, a transfer made in the admin console, another
    process) adds a TicketEvent; a card whose ticket has a newer event than it shows is
    re-rendered, and if what the worker would see differs, an edit is queued in the outbox
    (rate limits, retries and per-chat order apply as to any message). The conditional update
    of the card row means two processes never queue the same edit.
    """

    def __init__(self, store: Store, clock: Clock, codec: CallbackCodec) -> None:
        self.store = store
        self.clock = clock
        self.codec = codec

    async def run_once(self, *, recipient: str | None = None, limit: int = 50) -> int:
        """Queue edits for stale cards (of one chat, or all); returns how many were queued."""
        now = self.clock.now()
        queued = 0
        async with self.store.unit() as uow:
            stale = await uow.cards.stale(
                CHANNEL, since=now - CARD_WINDOW, recipient=recipient, limit=limit
            )
            for card, ticket, newest in stale:
                view = await card_view(uow, card, ticket)
                shown = render(
                    view, await self.codec.encode_all(view.buttons), as_caption=card.media
                )
                fingerprint = shown.fingerprint()
                moved = await uow.cards.rendered(
                    card.id or 0,
                    previous_event_id=card.last_event_id,
                    event_id=newest,
                    fingerprint=fingerprint,
                )
                if not moved or fingerprint == card.fingerprint:
                    continue
                edit = replace(
                    view,
                    image=None,
                    data={
                        **view.data,
                        EDIT_ID: card.message_id,
                        EDIT_MEDIA: "1" if card.media else "",
                    },
                )
                await uow.outbox.enqueue(
                    CHANNEL, card.recipient, outbound_to_dict(edit), now=now, ticket_id=ticket.id
                )
                queued += 1
            uow.queued += queued
        return queued


# --- the notifier -------------------------------------------------------------------------


class TelegramNotifier:
    """Sends Outbound messages to Telegram chats (a `handlers.ports.Notifier`)."""

    channel = CHANNEL

    def __init__(
        self,
        bot: Bot,
        *,
        store: Store,
        sessions: SessionStore,
        clock: Clock,
        limiter: SendRateLimiter,
        codec: CallbackCodec,
        max_wait: float = 3.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.bot = bot
        self.store = store
        self.sessions = sessions
        self.clock = clock
        self.limiter = limiter
        self.codec = codec
        self.max_wait = max_wait
        # a send that is under way blocks re-sends of its item this long at most: longer
        # than the Bot API request may take (the bot session's timeout), so its outcome is in
        self.under_way_ttl = max(1, int(request_timeout) + 5)
        self._sends: set[asyncio.Task[tuple[Rendered | None, int | None]]] = set()

    async def send(self, recipient: Recipient, message: Outbound, *, key: str) -> DeliveryResult:
        try:
            chat_id = int(recipient.user_id)
        except ValueError:
            return DeliveryResult(ok=False, detail="not a Telegram chat id")
        try:
            earlier = await self.sessions.get_value(f"telegram:sent:{key}")
            if earlier is not None:
                return DeliveryResult(ok=True, platform_message_id=earlier or None, detail="dup")
            if await self.sessions.get_value(f"telegram:sending:{key}"):
                # an earlier try whose caller stopped waiting may still get its answer: the
                # Bot API has no idempotency key, so sending again now could show it twice
                return DeliveryResult(
                    ok=False,
                    retry=True,
                    retry_after=UNDER_WAY_RETRY,
                    detail="an earlier send may still be under way",
                )
            wait = await self.limiter.acquire(str(chat_id), max_wait=self.max_wait)
            if wait > 0:
                return DeliveryResult(
                    ok=False, retry=True, retry_after=wait, detail="waiting for the rate limit"
                )
            await self.sessions.set_value(
                f"telegram:sending:{key}", "1", ttl_seconds=self.under_way_ttl
            )
            # shielded: when the outbox stops waiting (its send timeout) the request still
            # finishes and records its outcome, so the retry finds the message sent
            task = asyncio.create_task(self._send_recorded(chat_id, recipient, message, key))
            self._sends.add(task)
            task.add_done_callback(self._forget)
            _shown, message_id = await asyncio.shield(task)
        except TelegramRetryAfter as e:
            return DeliveryResult(
                ok=False, retry=True, retry_after=float(e.retry_after), detail=f"429 {e.message}"
            )
        except TelegramForbiddenError as e:
            return DeliveryResult(ok=False, unreachable=True, detail=f"403 {e.message}")
        except (TelegramBadRequest, TelegramNotFound) as e:
            return self._bad_request(
                e, edit=EDIT_ID in message.data or message.kind == CLEAR_BUTTONS
            )
        except TelegramMigrateToChat as e:
            return DeliveryResult(ok=False, detail=f"chat migrated: {e.message}")
        except TelegramUnauthorizedError as e:
            log.error("Telegram rejected the bot token (401): check MINHU_TELEGRAM__TOKEN")
            return DeliveryResult(ok=False, retry=True, detail=f"401 {e.message}")
        except TelegramAPIError as e:  # network errors, 5xx: transient
            return DeliveryResult(ok=False, retry=True, detail=f"{type(e).__name__}: {e.message}")
        except StorageError as e:
            return DeliveryResult(ok=False, retry=True, detail=f"storage: {e}")
        return DeliveryResult(ok=True, platform_message_id=str(message_id) if message_id else None)

    async def _send_recorded(
        self, chat_id: int, recipient: Recipient, message: Outbound, key: str
    ) -> tuple[Rendered | None, int | None]:
        """Send, then record the platform's message id under the item's key (and the card)."""
        try:
            shown, message_id = await self._deliver(chat_id, message)
        except BaseException:
            # a refusal or an error answer: nothing was shown, a retry may send at once. (A
            # request that timed out on our side may still have been shown: that window is
            # what remains, README "Reliability".)
            with contextlib.suppress(StorageError):
                await self.sessions.set_value(f"telegram:sending:{key}", "", ttl_seconds=1)
            raise
        await self.sessions.set_value(
            f"telegram:sent:{key}", str(message_id or ""), ttl_seconds=SENT_TTL
        )
        if message.kind == "task_card" and EDIT_ID not in message.data and message_id:
            await self._remember_card(recipient, message, shown, message_id)
        return shown, message_id

    def _forget(self, task: asyncio.Task[tuple[Rendered | None, int | None]]) -> None:
        self._sends.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:  # the outbox reports it too when it still waited for it
            log.info("telegram send ended with %s: %s", type(error).__name__, error)

    def _bad_request(self, e: TelegramAPIError, *, edit: bool) -> DeliveryResult:
        text = e.message.lower()
        if "not modified" in text:  # an edit to what is already shown: done
            return DeliveryResult(ok=True, detail="not modified")
        if "chat not found" in text or "user not found" in text or "deactivated" in text:
            return DeliveryResult(ok=False, unreachable=True, detail=f"400 {e.message}")
        if edit and ("to edit not found" in text or "can't be edited" in text):
            # the user deleted the message, or it is too old: nothing left to change
            return DeliveryResult(ok=True, detail=f"nothing to edit: {e.message}")
        # a malformed message: sending it again would fail the same way
        return DeliveryResult(ok=False, detail=f"400 {e.message}")

    async def _deliver(self, chat_id: int, message: Outbound) -> tuple[Rendered | None, int | None]:
        if message.kind == CLEAR_BUTTONS:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=int(message.data["message_id"]), reply_markup=None
            )
            return None, int(message.data["message_id"])
        callback_data = await self.codec.encode_all(message.buttons)
        if EDIT_ID in message.data:
            return await self._edit(chat_id, message, callback_data)
        shown = render(message, callback_data)
        parse_mode = "HTML" if shown.html else None
        if shown.image is not None:
            photo = await self._photo(shown.image)
            if photo is None:
                # the photo is gone from storage: the message is still worth sending as text
                shown = render(replace(message, image=None), callback_data)
            elif len(shown.text) <= CAPTION_LIMIT:
                sent = await self.bot.send_photo(
                    chat_id=chat_id,
                    photo=photo,
                    caption=shown.text,
                    parse_mode=parse_mode,
                    reply_markup=shown.markup,
                )
                return shown, sent.message_id
            else:  # too long for a caption: the photo first, then the text with the buttons
                await self.bot.send_photo(chat_id=chat_id, photo=photo)
                shown = replace(shown, image=None)
        last: int | None = None
        pieces = [shown.text] if shown.html else split_text(shown.text)
        for i, piece in enumerate(pieces):
            sent = await self.bot.send_message(
                chat_id=chat_id,
                text=piece,
                parse_mode=parse_mode,
                reply_markup=shown.markup if i == len(pieces) - 1 else None,
            )
            last = sent.message_id
        return shown, last

    async def _edit(
        self, chat_id: int, message: Outbound, callback_data: Mapping[str, str]
    ) -> tuple[Rendered, int]:
        message_id = int(message.data[EDIT_ID])
        media = message.data.get(EDIT_MEDIA) == "1"
        shown = render(message, callback_data, as_caption=media)
        inline = shown.markup if isinstance(shown.markup, InlineKeyboardMarkup) else None
        parse_mode = "HTML" if shown.html else None
        if media:
            await self.bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=shown.text,
                parse_mode=parse_mode,
                reply_markup=inline,
            )
        else:
            await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=shown.text,
                parse_mode=parse_mode,
                reply_markup=inline,
            )
        return shown, message_id

    async def _photo(self, attachment: int) -> BufferedInputFile | None:
        async with self.store.unit() as uow:
            item = await uow.attachments.get(attachment)
            content = await uow.attachments.content(item) if item is not None else b""
        if item is None or not content:
            return None
        extension = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}.get(
            item.mime, "jpg"
        )
        return BufferedInputFile(content, filename=f"photo-{attachment}.{extension}")

    async def _remember_card(
        self, recipient: Recipient, message: Outbound, shown: Rendered | None, message_id: int
    ) -> None:
        """Record a sent card so it can be edited and replied to (best effort: the message is
        out, so a storage hiccup here must not make the outbox send it again)."""
        media = shown is not None and shown.image is not None
        fingerprint = render(
            canonical(message), await self.codec.encode_all(message.buttons), as_caption=media
        ).fingerprint()
        try:
            async with self.store.unit() as uow:
                ticket = await uow.tickets.by_number(message.data.get("number", ""))
                if ticket is None or ticket.id is None:
                    return
                identity = await uow.registry.identity(CHANNEL, recipient.user_id)
                await uow.cards.record(
                    TaskCard(
                        channel=CHANNEL,
                        recipient=recipient.user_id,
                        message_id=str(message_id),
                        ticket_id=ticket.id,
                        worker_id=identity.worker_id if identity else None,
                        media=media,
                        last_event_id=0,  # the next sync compares it with the ticket as it is
                        fingerprint=fingerprint,
                        created_at=self.clock.now(),
                    )
                )
        except StorageError:
            log.exception("could not record the task card for %s", mask_id(recipient.user_id))
