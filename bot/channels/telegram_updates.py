"""Telegram updates → what Minhu needs from them (pure: no network, no storage).

`parse_update` turns an aiogram `Update` into an `Incoming` message (text, button, photo to
fetch, location, contact, reply-to), a `Membership` change (the user blocked or unblocked the
bot) or ``None`` for updates Minhu ignores (group chats, edits, other bots, polls ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from aiogram.types import CallbackQuery, Message, PhotoSize, Update, User

from handlers.i18n import locale_of
from handlers.messages import GeoPoint, MediaKind
from nlu.pii import phone_digits

# Bot commands and the dialogue payloads they stand for (see handlers/dialogue/policy.on_button;
# "tasks" is the grid workers' list). /start without a code greets with the help menu.
COMMANDS: dict[str, str] = {
    "start": "help",
    "help": "help",
    "status": "status",
    "cancel": "cancel",
    "report": "report",
    "tasks": "tasks",
}
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{3,64})?(?:\s+(?P<arg>.*))?$")
BIND_PREFIX = "bind-"
# ``t.me/<bot>?start=link-48291375``: a resident's or building head's link code (people.py),
# tapped instead of typed; it reaches the conversation as "绑定 48291375"
LINK_PREFIX = "link-"
_LINK_ARG = re.compile(r"^link-(\d{8})$")


@dataclass(frozen=True, slots=True)
class PhotoRef:
    """A photo to fetch with getFile: the size chosen and what Telegram says it weighs."""

    file_id: str
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One user action in a private chat, before media is fetched and stored.

    Attributes:
        chat_id: where replies go (the user's private chat).
        user_id: the Telegram user id, as a string (Minhu's channel user id).
        message_id: the de-duplication key: ``<chat>:<message>`` or ``cb:<callback id>``.
        callback_id: set for a button press; the query must be answered.
        source_message_id: the message carrying the pressed button (a task card, maybe).
        bind_code: set for ``/start bind-<code>`` (worker binding), with nothing else.
        forwarded: the message was forwarded (Telegram's ``forward_origin``): asked about
            before it is taken as the sender's own report.
        foreign_contact: a shared contact whose ``user_id`` is not the sender's (or absent):
            never taken as the sender's phone number.
    """

    chat_id: int
    user_id: str
    message_id: str
    locale: str = "zh"
    text: str = ""
    button: str | None = None
    photo: PhotoRef | None = None
    other_media: MediaKind | None = None
    location: GeoPoint | None = None
    contact_phone: str | None = None
    reply_to: str | None = None
    callback_id: str | None = None
    source_message_id: int | None = None
    bind_code: str | None = None
    forwarded: bool = False  # someone else's message passed on: not the sender's own words
    foreign_contact: bool = False  # a contact card of someone else: not the sender's phone


@dataclass(frozen=True, slots=True)
class Membership:
    """The user blocked (``reachable`` False) or restarted (True) the bot."""

    user_id: str
    reachable: bool


def locale_for(user: User | None) -> str:
    """zh-CN by default; English when the user's Telegram language is English."""
    return locale_of(user.language_code if user else None)


def largest_photo(sizes: list[PhotoSize], max_bytes: int) -> PhotoRef | None:
    """The largest size of a photo that is not over ``max_bytes`` (sizes without a known
    weight count as fitting; the download checks again)."""
    fitting = [s for s in sizes if s.file_size is None or s.file_size <= max_bytes]
    if not fitting:
        return None
    best = max(fitting, key=lambda s: (s.width * s.height, s.file_size or 0))
    return PhotoRef(best.file_id, best.file_size)


def parse_update(update: Update, *, max_photo_bytes: int) -> Incoming | Membership | None:
    """What an update means for Minhu; ``None`` when it is nothing Minhu acts on."""
    if update.message is not None:
        return _message(update.message, max_photo_bytes)
    if update.callback_query is not None:
        return _callback(update.callback_query)
    member = update.my_chat_member
    if member is not None and member.chat.type == "private":
        status = member.new_chat_member.status
        if status in ("kicked", "left"):
            return Membership(str(member.from_user.id), reachable=False)
        if status == "member":
            return Membership(str(member.from_user.id), reachable=True)
    return None


def _message(message: Message, max_photo_bytes: int) -> Incoming | None:
    user = message.from_user
    if message.chat.type != "private" or user is None or user.is_bot:
        return None  # Minhu talks to people one to one; a bot added to a group stays silent
    base = Incoming(
        chat_id=message.chat.id,
        user_id=str(user.id),
        message_id=f"{message.chat.id}:{message.message_id}",
        locale=locale_for(user),
        reply_to=(str(message.reply_to_message.message_id) if message.reply_to_message else None),
        forwarded=message.forward_origin is not None or message.forward_date is not None,
    )
    text = (message.text or message.caption or "").strip()
    if message.text is not None:
        command = _COMMAND.match(text)
        if command is not None:
            name = command.group("name").lower()
            arg = (command.group("arg") or "").strip()
            if name == "start" and arg.startswith(BIND_PREFIX):
                return replace(base, bind_code=arg.removeprefix(BIND_PREFIX))
            if name == "start" and (link := _LINK_ARG.match(arg)):
                return replace(base, text=f"绑定 {link.group(1)}")
            if name in COMMANDS:
                return replace(base, button=COMMANDS[name])
        return replace(base, text=text)
    if message.photo:
        photo = largest_photo(message.photo, max_photo_bytes)
        if photo is None:
            return replace(base, text=text, other_media=MediaKind.IMAGE)
        return replace(base, text=text, photo=photo)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        if document.file_size is not None and document.file_size > max_photo_bytes:
            return replace(base, text=text, other_media=MediaKind.IMAGE)
        return replace(base, text=text, photo=PhotoRef(document.file_id, document.file_size))
    if message.location is not None:
        venue = message.venue
        label = (venue.title if venue else "")[:100]
        point = GeoPoint(message.location.latitude, message.location.longitude, label)
        return replace(base, text="", location=point)
    if message.contact is not None:
        if message.contact.user_id != user.id:
            # a neighbour's or the property manager's card: their number, not the sender's
            return replace(base, foreign_contact=True)
        return replace(base, contact_phone=phone_digits(message.contact.phone_number))
    if message.voice is not None or message.audio is not None:
        return replace(base, text=text, other_media=MediaKind.VOICE)
    if message.video is not None or message.video_note is not None:
        return replace(base, text=text, other_media=MediaKind.VIDEO)
    if message.document is not None or message.sticker is not None:
        return replace(base, text=text, other_media=MediaKind.FILE)
    if message.animation is not None:
        return replace(base, text=text, other_media=MediaKind.VIDEO)
    return None  # service messages (pins, joins) and kinds Minhu has nothing to say about


def _callback(query: CallbackQuery) -> Incoming | None:
    message = query.message
    chat = message.chat if message is not None else None
    if chat is None or chat.type != "private" or query.from_user.is_bot:
        return None
    return Incoming(
        chat_id=chat.id,
        user_id=str(query.from_user.id),
        message_id=f"cb:{query.id}",
        locale=locale_for(query.from_user),
        button=query.data or "",
        callback_id=query.id,
        source_message_id=message.message_id if message is not None else None,
    )
