"""The confirming stage: submit, change or correct the summary, called directly."""

from __future__ import annotations

import pytest

from handlers.dialogue import CreateTicket, DialogueState, Stage, confirming
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import form_of, make, payloads, texts


def summary() -> DialogueState:
    state = form_of("report_elevator", unit="2", phone="13812345678")
    state.stage = Stage.CONFIRMING
    return state


@pytest.mark.parametrize(
    ("text", "parse"),
    [
        ("确认", None),
        ("提交。", None),
        ("好", None),
        ("嗯嗯没问题", parse_of("affirm", 0.9)),
    ],
)
def test_yes_files_the_report(text: str, parse: Parse | None) -> None:
    s = make(summary(), text, parse)
    confirming.on_text(s, text)
    [action] = s.turn.actions
    assert isinstance(action, CreateTicket)
    assert (action.category, action.building_id, action.unit, action.phone) == (
        "elevator",
        3,
        "2",
        "13812345678",
    )
    assert s.state == DialogueState()


@pytest.mark.parametrize(
    ("text", "parse"), [("修改", None), ("不对", None), ("不是这样的", parse_of("deny", 0.9))]
)
def test_no_asks_what_to_change(text: str, parse: Parse | None) -> None:
    s = make(summary(), text, parse)
    confirming.on_text(s, text)
    assert s.state.stage == Stage.EDITING
    assert texts(s) == ["要修改哪一项？"]
    assert payloads(s.turn.replies[0]) == [
        "edit:building",
        "edit:description",
        "edit:phone",
        "cancel",
    ]
    assert s.turn.actions == []


def test_a_new_detail_updates_the_summary() -> None:
    s = make(summary(), "是2单元302", parse_of("inform", 0.8, entities={"room": "302"}))
    confirming.on_text(s, "是2单元302")
    assert s.state.slots["room"] == "302"
    assert s.state.stage == Stage.CONFIRMING
    [reply] = s.turn.replies
    assert "地点：3幢2单元302" in reply.text  # the summary shows the change
    assert "138****5678" in reply.text  # masked


def test_anything_else_asks_again_with_the_summary() -> None:
    s = make(summary(), "随便说说")
    confirming.on_text(s, "随便说说")
    assert texts(s)[0] == "请点“确认提交”提交报事，或点“修改”“取消”。"
    assert texts(s)[1].startswith("请确认报事内容：")
    assert payloads(s.turn.replies[1]) == ["confirm", "edit", "cancel"]


@pytest.mark.parametrize(
    ("state", "filed", "reply"),
    [
        (summary(), True, None),
        (DialogueState(), False, "您好，这里是“民呼”社区报事服务。"),  # a stale button
    ],
)
def test_the_submit_button_files_only_a_report_awaiting_confirmation(
    state: DialogueState, filed: bool, reply: str | None
) -> None:
    s = make(state, button="confirm")
    confirming.on_confirm_button(s)
    assert bool(s.turn.actions) == filed
    if reply is not None:
        assert texts(s)[0].startswith(reply)
