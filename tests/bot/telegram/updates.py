"""Telegram update payloads for tests, built from the recorded ones in tests/data/telegram.

Each builder loads a recorded payload and rewrites only the ids and the content under test,
so what the channel parses is shaped exactly like what Telegram sends.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parents[2] / "data" / "telegram"


@cache
def _recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / f"{name}.json").read_text("utf-8"))
    return data


def recorded(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded update payload."""
    return copy.deepcopy(_recorded(name))


@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str = "用户"
    language_code: str = "zh-hans"

    def as_from(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }

    def as_chat(self) -> dict[str, Any]:
        return {"id": self.id, "first_name": self.first_name, "type": "private"}


class Updates:
    """Builds updates with fresh update ids and message ids, like a live bot receives."""

    def __init__(self, start: int = 846_200_000) -> None:
        self._update_ids = itertools.count(start)
        self._message_ids = itertools.count(3000)
        self._callback_ids = itertools.count(1)

    def _message(self, name: str, user: TgUser, **fields: Any) -> dict[str, Any]:
        update = recorded(name)
        update["update_id"] = next(self._update_ids)
        message = update["message"]
        message["message_id"] = next(self._message_ids)
        message["from"] = user.as_from()
        message["chat"] = user.as_chat()
        reply_to = fields.pop("reply_to", None)
        message.pop("reply_to_message", None)
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "from": {"id": 7000000001, "is_bot": True, "first_name": "民呼"},
                "chat": user.as_chat(),
                "date": message["date"] - 60,
                "text": "…",
            }
        message.update(fields)
        return update

    def text(self, user: TgUser, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
        entities = []
        if text.startswith("/"):
            entities = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        name = "command_message" if entities else "text_message"
        update = self._message(name, user, reply_to=reply_to, text=text)
        if entities:
            update["message"]["entities"] = entities
        return update

    def photo(
        self, user: TgUser, file_prefix: str, caption: str = "", *, reply_to: int | None = None
    ) -> dict[str, Any]:
        update = self._message("photo_message", user, reply_to=reply_to)
        for size, label in zip(
            update["message"]["photo"], ("small", "medium", "large"), strict=True
        ):
            size["file_id"] = f"{file_prefix}-{label}"
        if caption:
            update["message"]["caption"] = caption
        else:
            update["message"].pop("caption", None)
        return update

    def location(self, user: TgUser, latitude: float, longitude: float) -> dict[str, Any]:
        update = self._message("location_message", user)
        update["message"]["location"] = {"latitude": latitude, "longitude": longitude}
        return update

    def venue(self, user: TgUser) -> dict[str, Any]:
        return self._message("venue_message", user)

    def contact(self, user: TgUser, phone: str) -> dict[str, Any]:
        update = self._message("contact_message", user)
        update["message"]["contact"] = {
            "phone_number": phone,
            "first_name": user.first_name,
            "user_id": user.id,
        }
        return update

    def contact_of(self, user: TgUser, phone: str, owner: int | None) -> dict[str, Any]:
        """A contact card someone else's (``owner`` another user id, or None: not on Telegram)."""
        update = self._message("contact_message", user)
        update["message"]["contact"] = {"phone_number": phone, "first_name": "王阿姨"}
        if owner is not None:
            update["message"]["contact"]["user_id"] = owner
        return update

    def forwarded(self, user: TgUser, text: str) -> dict[str, Any]:
        """A message the user forwards from another chat (Bot API ``forward_origin``)."""
        update = self._message("forwarded_message", user)
        update["message"]["text"] = text
        return update

    def voice(self, user: TgUser) -> dict[str, Any]:
        return self._message("voice_message", user)

    def document_image(self, user: TgUser) -> dict[str, Any]:
        return self._message("document_image_message", user)

    def callback(self, user: TgUser, data: str, message_id: int) -> dict[str, Any]:
        update = recorded("callback_query")
        update["update_id"] = next(self._update_ids)
        query = update["callback_query"]
        query["id"] = f"cbq-{user.id}-{next(self._callback_ids)}"
        query["from"] = user.as_from()
        query["data"] = data
        query["message"]["message_id"] = message_id
        query["message"]["chat"] = user.as_chat()
        return update

    def edited(self, user: TgUser) -> dict[str, Any]:
        update = recorded("edited_message")
        update["update_id"] = next(self._update_ids)
        update["edited_message"]["from"] = user.as_from()
        update["edited_message"]["chat"] = user.as_chat()
        return update

    def group(self, user: TgUser) -> dict[str, Any]:
        update = recorded("group_message")
        update["update_id"] = next(self._update_ids)
        update["message"]["from"] = user.as_from()
        return update

    def blocked(self, user: TgUser, *, status: str = "kicked") -> dict[str, Any]:
        update = recorded("my_chat_member_kicked")
        update["update_id"] = next(self._update_ids)
        member = update["my_chat_member"]
        member["from"] = user.as_from()
        member["chat"] = user.as_chat()
        member["new_chat_member"]["status"] = status
        if status != "kicked":
            member["new_chat_member"].pop("until_date", None)
            member["old_chat_member"]["status"] = "kicked"
            member["old_chat_member"]["until_date"] = 0
        return update
