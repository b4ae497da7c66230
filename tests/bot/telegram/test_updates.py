"""Recorded Telegram updates in, what Minhu makes of them out (pure parsing)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import PhotoSize, Update

from bot.channels.telegram_updates import (
    Incoming,
    Membership,
    PhotoRef,
    largest_photo,
    parse_update,
)
from handlers.messages import GeoPoint, MediaKind
from tests.bot.telegram.updates import recorded

MAX = 5 * 1024 * 1024
USER = 5123456789


def parse(payload: dict[str, Any], max_photo_bytes: int = MAX) -> Incoming | Membership | None:
    return parse_update(Update.model_validate(payload), max_photo_bytes=max_photo_bytes)


def with_text(text: str) -> dict[str, Any]:
    update = recorded("command_message")
    update["message"]["text"] = text
    return update


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "text_message",
            Incoming(USER, str(USER), f"{USER}:1021", text="3幢楼上装修太吵了"),
        ),
        ("command_message", Incoming(USER, str(USER), f"{USER}:1022", button="help")),
        (
            "photo_message",
            Incoming(
                USER,
                str(USER),
                f"{USER}:1023",
                text="楼道里堆满了杂物",
                photo=PhotoRef("AgACAgUAAxkBAAIBsmZ-large", 68211),
            ),
        ),
        (
            "location_message",
            Incoming(USER, str(USER), f"{USER}:1024", location=GeoPoint(30.274131, 120.156705)),
        ),
        (
            "venue_message",
            Incoming(
                USER,
                str(USER),
                f"{USER}:1034",
                location=GeoPoint(30.2747, 120.1551, "阳光花园5幢"),
            ),
        ),
        (
            "contact_message",
            Incoming(USER, str(USER), f"{USER}:1025", contact_phone="13812345678"),
        ),
        (
            "callback_query",
            Incoming(
                USER,
                str(USER),
                "cb:4382bfdwdsb323b2d9",
                button="confirm",
                callback_id="4382bfdwdsb323b2d9",
                source_message_id=1030,
            ),
        ),
        (
            "reply_message",
            Incoming(
                5987654321,
                "5987654321",
                "5987654321:1031",
                text="已上门劝导，装修工人已停工",
                reply_to="1029",
            ),
        ),
        (
            "voice_message",
            Incoming(USER, str(USER), f"{USER}:1032", other_media=MediaKind.VOICE),
        ),
        (
            "document_image_message",
            Incoming(
                USER,
                str(USER),
                f"{USER}:1033",
                locale="en",
                text="water leaking from the ceiling",
                photo=PhotoRef("BQACAgUAAxkBAAIBdoc", 120331),
            ),
        ),
        ("my_chat_member_kicked", Membership(str(USER), reachable=False)),
        ("edited_message", None),  # an edit is not a new report; the original was handled
        ("group_message", None),  # Minhu talks one to one; in a group the bot stays silent
    ],
)
def test_recorded_updates_parse_to_what_minhu_needs(name: str, expected: object) -> None:
    assert parse(recorded(name)) == expected


@pytest.mark.parametrize(
    ("text", "button", "code", "plain"),
    [
        ("/start", "help", None, ""),
        ("/start bind-Ab3_x-9kLmNoPqRs", None, "Ab3_x-9kLmNoPqRs", ""),
        ("/help", "help", None, ""),
        ("/status", "status", None, ""),
        ("/cancel", "cancel", None, ""),
        ("/tasks", "tasks", None, ""),
        ("/status@minhu_test_bot", "status", None, ""),
        ("/unknown", None, None, "/unknown"),  # the dialogue answers it like any text
    ],
)
def test_bot_commands_map_to_dialogue_buttons(
    text: str, button: str | None, code: str | None, plain: str
) -> None:
    parsed = parse(with_text(text))
    assert isinstance(parsed, Incoming)
    assert (parsed.button, parsed.bind_code, parsed.text) == (button, code, plain)


def test_the_locale_is_english_only_when_the_user_s_language_is_english() -> None:
    english = with_text("hello")
    english["message"]["from"]["language_code"] = "en-GB"
    chinese = with_text("你好")
    chinese["message"]["from"].pop("language_code")
    assert [p.locale for p in (parse(english), parse(chinese))] == ["en", "zh"]  # type: ignore[union-attr]


def test_a_user_who_restarts_the_bot_is_reachable_again() -> None:
    update = recorded("my_chat_member_kicked")
    member = update["my_chat_member"]
    member["old_chat_member"].update(status="kicked", until_date=0)
    member["new_chat_member"] = {"user": member["new_chat_member"]["user"], "status": "member"}
    assert parse(update) == Membership(str(USER), reachable=True)


def test_the_largest_photo_that_fits_the_limit_is_chosen() -> None:
    sizes = [
        PhotoSize(file_id="s", file_unique_id="s", width=90, height=60, file_size=1_000),
        PhotoSize(file_id="m", file_unique_id="m", width=800, height=600, file_size=90_000),
        PhotoSize(file_id="l", file_unique_id="l", width=2560, height=1920, file_size=9_000_000),
    ]
    assert largest_photo(sizes, MAX) == PhotoRef("m", 90_000)
    assert largest_photo(sizes[2:], MAX) is None


def test_a_photo_too_large_for_any_size_is_reported_not_fetched() -> None:
    parsed = parse(recorded("photo_message"), max_photo_bytes=1000)
    assert isinstance(parsed, Incoming)
    assert parsed.photo is None and parsed.other_media == MediaKind.IMAGE


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("13812345678", "13812345678"),
        ("+14155550100", "14155550100"),
    ],
)
def test_shared_contact_numbers_lose_the_china_country_code(raw: str, phone: str) -> None:
    update = recorded("contact_message")
    update["message"]["contact"]["phone_number"] = raw
    parsed = parse(update)
    assert isinstance(parsed, Incoming) and parsed.contact_phone == phone
