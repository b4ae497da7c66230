"""Questions name the slot they ask for, so a channel can offer a native control for it
(Telegram: "send my location" for the building, "share my phone number" for the phone)."""

from __future__ import annotations

from handlers.dialogue import DialogueState, Stage, step
from tests.factories import inbound, parse_of
from tests.handlers.test_dialogue import CFG, CTX


def test_the_building_question_says_it_asks_for_the_building() -> None:
    turn = step(DialogueState(), inbound("电梯坏了"), parse_of("report_elevator", 0.93), CTX, CFG)
    assert turn.state.asking == "building"
    assert turn.replies[-1].data == {"ask": "building", "locale": "zh"}


def test_the_phone_question_and_the_urgent_follow_up_say_they_ask_for_the_phone() -> None:
    state = DialogueState(
        stage=Stage.FILLING,
        flow="report_noise",
        asking="room",
        slots={
            "description": "楼上装修",
            "building": "3",
            "building_id": "3",
            "building_name": "3幢",
        },
    )
    turn = step(state, inbound(button="skip"), None, CTX, CFG)
    assert turn.state.asking == "phone"
    assert turn.replies[-1].data["ask"] == "phone"

    urgent = parse_of(
        "report_elevator",
        0.93,
        text="3幢电梯坏了，有人被困",
        entities={"building": "3幢", "urgency": "urgent"},
    )
    turn = step(DialogueState(), inbound("3幢电梯坏了，有人被困"), urgent, CTX, CFG)
    assert turn.after[-1].data == {"ask": "phone", "locale": "zh"}


def test_answers_that_ask_nothing_carry_no_hint() -> None:
    turn = step(DialogueState(), inbound(button="help"), None, CTX, CFG)
    assert all("ask" not in reply.data for reply in turn.replies)
