"""The idle stage (and the urgent report's follow-up phone), called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import AddContactPhone, DialogueState, RateTicket, Stage, idle
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import CTX, FIRST, brief, make, payloads, texts

MENU = ["report", "status", "help"]


@pytest.mark.parametrize(
    ("text", "intent", "reply", "buttons"),
    [
        ("你好", "greet", "您好，这里是“民呼”社区报事服务。", MENU),
        ("谢谢你们", "thanks", "不客气，有问题随时找我们。", []),
        ("我要评价", "rate", "目前没有需要评价的工单。", []),
        ("不报了", "cancel", "当前没有正在填写的报事。", MENU),  # no report of theirs is open
        ("今天天气怎么样", "out_of_scope", "抱歉，这个问题不在社区报事的服务范围内。", MENU),
        ("帮助", "greet", "使用方法：", MENU),  # the word wins over the intent
    ],
)
def test_conversational_intents_are_answered_and_the_stage_stays_idle(
    text: str, intent: str, reply: str, buttons: list[str]
) -> None:
    s = make(text=text, parse=parse_of(intent, 0.9, text=text))
    idle.on_text(s, text)
    assert s.state.stage == Stage.IDLE
    assert texts(s)[0].startswith(reply)
    assert payloads(s.turn.replies[0]) == buttons
    assert s.turn.actions == []


@pytest.mark.parametrize(
    ("intent", "flow", "asking"),
    [
        ("report_elevator", "report_elevator", "building"),
        ("report_noise", "report_noise", "building"),
        # taught in the console without a flow of its own: filed as "other", intent kept
        ("report_pigeons", "report_other", "building"),
    ],
)
def test_a_confident_report_starts_its_flow_and_asks_the_first_missing_question(
    intent: str, flow: str, asking: str
) -> None:
    s = make(text="出问题了", parse=parse_of(intent, 0.9, text="出问题了"))
    idle.on_text(s, "出问题了")
    assert (s.state.stage, s.state.flow, s.state.asking) == (Stage.FILLING, flow, asking)
    assert s.state.slots["description"] == "出问题了"
    assert s.state.nlu_intent == intent


@pytest.mark.parametrize(
    ("text", "intent", "score"),
    [("5", "inform", 5), ("满意", "affirm", 5), ("不满意", "deny", 2), ("三星", "inform", 3)],
)
def test_a_short_rating_rates_the_ticket_awaiting_it(text: str, intent: str, score: int) -> None:
    ctx = replace(CTX, awaiting_rating=(brief(FIRST, "resolved"),))
    s = make(text=text, parse=parse_of(intent, 0.9, text=text), ctx=ctx)
    idle.on_text(s, text)
    assert s.turn.actions == [RateTicket(FIRST, score, text)]


def test_a_long_message_with_a_rating_word_is_not_taken_as_a_rating() -> None:
    text = "楼下的垃圾桶满了一直没人清理很不满意"
    ctx = replace(CTX, awaiting_rating=(brief(FIRST, "resolved"),))
    s = make(text=text, parse=parse_of("report_sanitation", 0.9, text=text), ctx=ctx)
    idle.on_text(s, text)
    assert s.turn.actions == []
    assert s.state.flow == "report_sanitation"


def test_an_unclear_message_is_not_understood() -> None:
    s = make(text="嗯嗯", parse=parse_of("greet", 0.2, text="嗯嗯"))
    idle.on_text(s, "嗯嗯")
    assert texts(s)[0].startswith("抱歉，我没太明白。")
    assert s.state.stage == Stage.IDLE


@pytest.mark.parametrize(
    ("text", "parse", "action", "reply"),
    [
        (
            "13812345678",
            parse_of("inform", 0.9, entities={"phone": "13812345678"}),
            AddContactPhone(FIRST, "13812345678"),
            None,
        ),
        ("不用了", parse_of("deny", 0.9), None, None),
        ("谢谢", parse_of("thanks", 0.9), None, "不客气，有问题随时找我们。"),
    ],
)
def test_the_follow_up_phone_is_added_and_anything_else_is_read_as_idle(
    text: str, parse: Parse, action: AddContactPhone | None, reply: str | None
) -> None:
    state = DialogueState(stage=Stage.FOLLOWUP_PHONE, ticket=FIRST)
    s = make(state, text, parse)
    idle.on_followup_phone(s, text)
    assert s.state == DialogueState()
    assert s.turn.actions == ([action] if action else [])
    assert texts(s) == ([reply] if reply else [])
