"""The editing stage: which part of the summary changes, called directly."""

from __future__ import annotations

import pytest

from handlers.dialogue import DialogueState, Stage, editing
from tests.handlers.dialogue.support import form_of, make, payloads, texts


def choosing() -> DialogueState:
    state = form_of("report_elevator", unit="2", room="301", phone="13812345678")
    state.stage = Stage.EDITING
    return state


@pytest.mark.parametrize(
    ("text", "asking", "gone"),
    [
        ("地点", "building", {"building", "building_id", "building_name", "unit", "room"}),
        ("楼栋", "building", {"building", "building_id", "building_name", "unit", "room"}),
        ("问题描述", "description", {"description"}),
        ("手机", "phone", {"phone"}),
    ],
)
def test_naming_a_part_asks_for_it_again_and_forgets_the_old_answer(
    text: str, asking: str, gone: set[str]
) -> None:
    s = make(choosing(), text)
    editing.on_text(s, text)
    assert (s.state.stage, s.state.asking, s.state.editing) == (Stage.FILLING, asking, True)
    assert gone.isdisjoint(s.state.slots)
    kept = {"description", "building", "building_id", "building_name", "unit", "room", "phone"}
    assert kept - gone <= set(s.state.slots)
    assert s.turn.replies[-1].data["ask"] == asking


def test_anything_else_shows_the_choices_again() -> None:
    s = make(choosing(), "都改")
    editing.on_text(s, "都改")
    assert s.state.stage == Stage.EDITING
    assert texts(s) == ["要修改哪一项？"]
    assert payloads(s.turn.replies[0])[:3] == ["edit:building", "edit:description", "edit:phone"]


def test_an_edit_button_outside_the_summary_greets_instead() -> None:
    s = make(DialogueState(), button="edit:phone")
    editing.on_edit(s, "phone")
    assert s.state == DialogueState()
    assert texts(s)[0].startswith("您好，这里是“民呼”社区报事服务。")
