"""How Outbound messages look on Telegram (pure rendering) and how long payloads travel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.notify.telegram import (
    CALLBACK_LIMIT,
    CAPTION_LIMIT,
    CallbackCodec,
    card_html,
    render,
    split_text,
)
from handlers.messages import Button, Outbound
from handlers.notices import TicketFacts, task_card, worker_card
from storage.state import MemorySessionStore

FACTS = TicketFacts(
    number="MH-20261122-0007",
    category="noise",
    priority="urgent",
    status="assigned",
    description="楼上<装修>& 电钻声",
    building_name="3幢",
    unit="2",
    room="501",
    phone="13812345678",
    created_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
    respond_by=datetime(2026, 11, 22, 2, 10, tzinfo=UTC),
    respond_within=timedelta(minutes=10),
)


def rows(markup: object) -> list[list[str]]:
    assert isinstance(markup, InlineKeyboardMarkup)
    return [[b.text for b in row] for row in markup.inline_keyboard]


def test_a_task_card_shows_the_facts_the_sla_and_its_buttons() -> None:
    card = task_card(FACTS)
    shown = render(card, {})
    assert shown.html
    assert shown.text.splitlines() == [
        "<b>MH-20261122-0007 噪音扰民</b>【紧急】",
        "<b>状态</b>：已派单，等待接单",
        "<b>地点</b>：3幢2单元501",
        "<b>居民描述</b>：楼上&lt;装修&gt;&amp; 电钻声",
        "<b>联系电话</b>：13812345678",
        "<b>上报时间</b>：11-22 10:00",
        "<b>响应时限</b>：11-22 10:10前（10分钟内）",
    ]
    assert rows(shown.markup) == [["接单", "进展", "办结"], ["转派", "移交部门", "联系居民"]]


def test_a_card_handed_to_someone_else_loses_its_buttons() -> None:
    view = worker_card(FACTS, holder=False, assignee="李娜")
    shown = render(view, {})
    assert "已转交李娜处理" in shown.text and "响应时限" not in shown.text
    assert shown.markup is None


def test_a_long_description_is_shortened_to_fit_a_photo_caption() -> None:
    long = replace(FACTS, description="噪音" * 2000)
    card = task_card(long)
    caption = render(card, {}, as_caption=True).text
    visible = caption.replace("<b>", "").replace("</b>", "")
    assert len(visible) <= CAPTION_LIMIT
    assert "…" in caption and "联系电话" in caption  # the phone always survives
    assert len(card_html(card.data).replace("<b>", "").replace("</b>", "")) <= 4096


def test_questions_for_building_and_phone_offer_telegram_s_own_buttons() -> None:
    building = Outbound(
        text="请问是哪一幢楼？",
        buttons=(Button("取消", "cancel"),),
        data={"ask": "building", "locale": "zh"},
    )
    markup = render(building, {}).markup
    assert isinstance(markup, ReplyKeyboardMarkup) and markup.one_time_keyboard
    assert markup.keyboard[0][0].request_location
    assert [b.text for b in markup.keyboard[1]] == ["取消"]

    phone = Outbound(
        text="Your number?",
        buttons=(Button("Skip", "skip"), Button("Cancel", "cancel")),
        data={"ask": "phone", "locale": "en"},
    )
    markup = render(phone, {}).markup
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.keyboard[0][0].request_contact
    assert markup.keyboard[0][0].text == "📱 Share my phone number"
    assert [b.text for b in markup.keyboard[1]] == ["Skip", "Cancel"]


def test_other_questions_get_inline_buttons_and_plain_messages_close_keyboards() -> None:
    stars = Outbound(
        text="请打分", buttons=tuple(Button("★" * s, f"rate:N:{s}") for s in (5, 4, 3))
    )
    assert rows(render(stars, {}).markup) == [["★★★★★", "★★★★", "★★★"]]
    long_titles = Outbound(
        text="选择", buttons=(Button("第一网格A微网格", "transfer:N:第一网格A微网格"),)
    )
    assert rows(render(long_titles, {}).markup) == [["第一网格A微网格"]]
    plain = render(Outbound(text="好的"), {})
    assert isinstance(plain.markup, ReplyKeyboardRemove) and not plain.html


async def test_payloads_over_64_bytes_travel_as_aliases_and_come_back() -> None:
    codec = CallbackCodec(MemorySessionStore())
    long = "transfer:MH-20261122-0007:" + "阳光花园社区第一网格A微网格" * 2
    assert len(long.encode()) > CALLBACK_LIMIT
    alias = await codec.encode(long)
    assert len(alias.encode()) <= CALLBACK_LIMIT and alias.startswith("h:")
    assert await codec.encode(long) == alias  # stable: the same button, the same data
    assert await codec.decode(alias) == long
    assert await codec.encode("accept:MH-20261122-0007") == "accept:MH-20261122-0007"
    assert await codec.decode("h:unknown") == "h:unknown"  # expired: left for the dialogue
    # a user cannot smuggle an alias in as a short payload
    assert (await codec.encode("h:abc")).startswith("h:") and await codec.encode("h:abc") != "h:abc"


def test_long_text_is_split_at_line_ends() -> None:
    text = "\n".join(f"第{i}行" + "字" * 100 for i in range(100))
    pieces = split_text(text)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) > 1
    assert "\n".join(pieces) == text
