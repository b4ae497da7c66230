"""The filling stage: answers to the flow's questions, called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import DialogueState, Stage, filling
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import (
    BUILDINGS,
    CTX,
    ELSEWHERE,
    form_of,
    make,
    payloads,
    texts,
)


@pytest.mark.parametrize(
    ("flow", "asking", "text", "value", "next_question"),
    [
        ("report_elevator", "unit", "2单元", "2", "phone"),
        ("report_elevator", "unit", "跳过", "", "phone"),
        ("report_noise", "room", "501室", "501", "phone"),
        ("report_noise", "room", "5 01", "501", "phone"),
        ("report_parking", "plate", "浙a12345", "浙A12345", "photo"),
    ],
)
def test_a_simple_answer_is_kept_in_its_slot_and_the_next_question_follows(
    flow: str, asking: str, text: str, value: str, next_question: str
) -> None:
    s = make(form_of(flow, asking), text)
    filling.on_text(s, text)
    assert s.state.slots[asking] == value
    assert s.state.asking == next_question
    assert s.turn.replies[-1].data == {"ask": next_question, "locale": "zh"}


@pytest.mark.parametrize(
    ("text", "building_id"),
    [("3号楼", "3"), ("三幢", "3"), ("阳光花园3幢", "3"), ("5栋", "5")],
)
def test_a_building_answer_in_any_common_form_names_the_building(
    text: str, building_id: str
) -> None:
    s = make(DialogueState(stage=Stage.FILLING, flow="report_elevator", asking="building"), text)
    s.state.slots["description"] = "电梯坏了"
    filling.on_text(s, text)
    assert s.state.slots["building_id"] == building_id
    assert s.state.slots["building_name"] == f"阳光花园社区{building_id}幢"
    assert s.state.asking == "unit"


def test_a_building_two_communities_share_is_offered_as_a_choice() -> None:
    ctx = replace(CTX, buildings=(*BUILDINGS, ELSEWHERE), community_id=None)
    s = make(DialogueState(stage=Stage.FILLING, flow="report_elevator", asking="building"), ctx=ctx)
    filling.on_text(s, "3幢")
    assert texts(s) == ["有几处叫“3幢”的楼栋，请选择："]
    assert payloads(s.turn.replies[0]) == ["building:3", "building:9"]
    assert "building_id" not in s.state.slots


@pytest.mark.parametrize(
    ("retries", "reply", "asking", "location_note"),
    [
        (0, "没能识别出楼栋。本社区登记的楼栋有：1幢、2幢、3幢、4幢、5幢。", "building", None),
        # never trap a resident: after the retries their own words are the place
        (2, None, "unit", "菜市场后面"),
    ],
)
def test_an_unknown_building_is_asked_again_then_taken_as_words(
    retries: int, reply: str | None, asking: str, location_note: str | None
) -> None:
    state = DialogueState(
        stage=Stage.FILLING,
        flow="report_elevator",
        asking="building",
        retries=retries,
        slots={"description": "电梯坏了"},
    )
    s = make(state, "菜市场后面")
    filling.on_text(s, "菜市场后面")
    assert s.state.asking == asking
    assert s.state.slots.get("location_note") == location_note
    if reply is not None:
        assert texts(s)[0].startswith(reply)


@pytest.mark.parametrize(
    ("text", "parse", "phone", "stage", "reply"),
    [
        (
            "13812345678",
            parse_of("inform", 0.9, entities={"phone": "13812345678"}),
            "13812345678",
            Stage.CONFIRMING,
            "请确认报事内容：",
        ),
        ("跳过", None, "", Stage.CONFIRMING, "请确认报事内容："),
        ("打我电话", None, None, Stage.FILLING, "这个号码好像不对"),
    ],
)
def test_the_phone_answer_is_taken_skipped_or_asked_again(
    text: str, parse: Parse | None, phone: str | None, stage: Stage, reply: str
) -> None:
    s = make(form_of("report_elevator", "phone", unit="2"), text, parse)
    filling.on_text(s, text)
    assert s.state.slots.get("phone") == phone
    assert s.state.stage == stage
    assert texts(s)[-1].startswith(reply)


@pytest.mark.parametrize(
    ("asking", "stage", "slot_value"),
    [
        ("unit", Stage.FILLING, ""),  # optional: skipped, the next question follows
        ("building", Stage.FILLING, None),  # required: asked again
    ],
)
def test_skip_leaves_optional_questions_empty_and_repeats_required_ones(
    asking: str, stage: Stage, slot_value: str | None
) -> None:
    state = form_of("report_elevator", asking)
    if asking == "building":
        for key in ("building", "building_id", "building_name"):
            state.slots.pop(key)
    s = make(state, button="skip")
    filling.on_skip(s)
    assert s.state.stage == stage
    assert s.state.slots.get(asking) == slot_value
    if slot_value is None:
        assert texts(s) == [
            "接着刚才的报事：",
            "请问是哪一幢楼？可以回复如“3幢”“3号楼2单元”或“3-2-501”。",
        ]
    else:
        assert s.state.asking == "phone"


@pytest.mark.parametrize(
    ("parse", "flow"),
    [
        (parse_of("report_noise", 0.5), "report_noise"),  # unsure, but report-like enough
        (parse_of("greet", 0.9), "report_other"),  # nothing report-like: still a report
    ],
)
def test_a_description_for_a_new_report_picks_its_flow(parse: Parse, flow: str) -> None:
    state = DialogueState(stage=Stage.FILLING, asking="description")
    s = make(state, "楼上天天吵到半夜", parse)
    filling.on_text(s, "楼上天天吵到半夜")
    assert s.state.flow == flow
    assert s.state.slots["description"] == "楼上天天吵到半夜"
    assert s.state.asking == "building"
