"""The duplicate stage: follow, add to one's own, or report anyway, called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import (
    AddSupplement,
    CreateTicket,
    DialogueState,
    FollowTicket,
    Stage,
    duplicate,
)
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import CFG, FIRST, make, payloads, texts

HELD = CreateTicket(
    intent="report_sanitation",
    category="sanitation",
    priority="normal",
    description="2幢门口垃圾没人清",
    building_id=2,
    building_name="2幢",
    photos=(7,),
)
ANYWAY = replace(HELD, allow_duplicate=True)


def offered(*, own: bool) -> DialogueState:
    state = DialogueState()
    duplicate.offer_duplicate(state, HELD, number=FIRST, status="处理中", own=own, locale="zh")
    return state


@pytest.mark.parametrize(
    ("own", "question", "buttons"),
    [
        (
            False,
            f"已有相同问题在处理中（工单 {FIRST}，处理中），为您关注进度？",
            ["dup:follow", "dup:new"],
        ),
        (True, f"您已经报过相同的问题（工单 {FIRST}，处理中）。", ["dup:add", "dup:new"]),
    ],
)
def test_the_offer_holds_the_report_and_remembers_its_buttons(
    own: bool, question: str, buttons: list[str]
) -> None:
    state = DialogueState()
    message = duplicate.offer_duplicate(
        state, HELD, number=FIRST, status="处理中", own=own, locale="zh"
    )
    assert message.text.startswith(question)
    assert payloads(message) == buttons
    assert (state.stage, state.ticket, state.offered) == (Stage.DUPLICATE, FIRST, buttons)
    assert state.draft is not None and state.draft["description"] == HELD.description


@pytest.mark.parametrize(
    ("own", "text", "parse", "action"),
    [
        (False, "关注进度", None, FollowTicket(FIRST, ANYWAY)),
        (False, "好的", None, FollowTicket(FIRST, ANYWAY)),
        (False, "那就这样吧", parse_of("affirm", 0.9), FollowTicket(FIRST, ANYWAY)),
        (True, "好", None, AddSupplement(FIRST, HELD.description, (7,), ANYWAY)),
        (True, "补充到该工单", None, AddSupplement(FIRST, HELD.description, (7,), ANYWAY)),
        (False, "仍要新报", None, ANYWAY),
        (True, "不是同一个", None, ANYWAY),
        (False, "不一样的事", parse_of("deny", 0.9), ANYWAY),
    ],
)
def test_a_typed_answer_follows_adds_or_reports_anyway(
    own: bool, text: str, parse: Parse | None, action: object
) -> None:
    s = make(offered(own=own), text, parse)
    duplicate.on_text(s, text)
    assert s.turn.actions == [action]
    assert s.state == DialogueState()


@pytest.mark.parametrize(("retries", "filed"), [(0, False), (CFG.max_retries, True)])
def test_an_unclear_answer_asks_again_then_files_the_report(retries: int, filed: bool) -> None:
    state = offered(own=False)
    state.retries = retries
    s = make(state, "这是什么意思")
    duplicate.on_text(s, "这是什么意思")
    if filed:
        assert s.turn.actions == [ANYWAY]
        assert s.state.stage == Stage.IDLE
    else:
        assert s.turn.actions == []
        assert (s.state.stage, s.state.retries) == (Stage.DUPLICATE, 1)
        assert payloads(s.turn.replies[0]) == ["dup:follow", "dup:new"]


def test_a_choice_without_a_held_report_is_not_understood() -> None:
    s = make(DialogueState(), button="dup:follow")
    duplicate.on_choice(s, "follow")
    assert s.turn.actions == []
    assert texts(s)[0].startswith("抱歉，我没太明白。")
