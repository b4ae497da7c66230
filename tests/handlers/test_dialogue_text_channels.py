"""Dialogue rules that text-only channels (WeChat) depend on: numbers and stairwell codes."""

from __future__ import annotations

from handlers.dialogue import DialogueState, Stage
from tests.factories import parse_of
from tests.handlers.test_dialogue import run


def asking(slot: str, offered: list[str]) -> DialogueState:
    return DialogueState(
        stage=Stage.FILLING,
        flow="report_elevator",
        slots={
            "description": "电梯坏了",
            "building": "3",
            "building_id": "3",
            "building_name": "3幢",
        },
        asking=slot,
        offered=offered,
    )


def test_a_bare_number_answers_which_unit_instead_of_pressing_skip_or_cancel() -> None:
    turn = run(asking("unit", ["skip", "cancel"]), "2", parse_of("inform", 0.6, text="2"))
    assert turn.state.stage == Stage.FILLING  # not cancelled
    assert turn.state.slots.get("unit", "").startswith("2")


def test_a_bare_number_still_picks_the_numbered_choice() -> None:
    state = asking("building", ["building:3", "building:4", "cancel"])
    state.slots = {"description": "电梯坏了", "building_candidates": "3,4"}
    turn = run(state, "2")
    assert turn.state.slots.get("building_id") == "4"


def test_an_empty_message_after_a_stairwell_code_asks_what_happened_at_that_building() -> None:
    state = DialogueState(
        stage=Stage.FILLING,
        asking="description",
        slots={"building": "3", "building_id": "3", "building_name": "阳光花园社区3幢"},
    )
    turn = run(state, "")
    [reply] = turn.replies
    assert reply.text == "好的，阳光花园社区3幢。请问遇到了什么问题？"
    assert [b.payload for b in reply.buttons] == ["cancel"]
    assert turn.state.stage == Stage.FILLING and turn.state.asking == "description"


def test_an_empty_message_otherwise_is_still_called_empty() -> None:
    turn = run(DialogueState(), "")
    assert "空消息" in turn.replies[0].text
