"""The clarifying stage: the two-stage fallback and the category choice, called directly."""

from __future__ import annotations

import pytest

from handlers.dialogue import DialogueState, Stage, clarifying
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import make, payloads, texts

TEXT = "楼下一直有怪味道"


@pytest.mark.parametrize(
    ("parse", "stage", "reply", "buttons"),
    [
        (
            parse_of(
                "report_sanitation",
                0.4,
                ranking=[("report_sanitation", 0.4), ("report_utilities", 0.3)],
            ),
            Stage.CLARIFYING,
            "我想确认一下，您要反映的是哪类问题？",
            ["flow:report_sanitation", "flow:report_utilities", "flow:report_other"],
        ),
        (
            # the fallback itself among the candidates is not offered twice
            parse_of("report_other", 0.4, ranking=[("report_other", 0.4), ("report_noise", 0.3)]),
            Stage.CLARIFYING,
            "我想确认一下，您要反映的是哪类问题？",
            ["flow:report_other", "flow:report_noise"],
        ),
        (
            parse_of("greet", 0.4, ranking=[("greet", 0.4), ("report_noise", 0.3)]),
            Stage.IDLE,
            "抱歉，我没太明白。",
            ["report", "status", "help"],
        ),
        (
            parse_of("out_of_scope", 0.4, ranking=[("report_noise", 0.4)]),
            Stage.IDLE,
            "抱歉，我没太明白。",
            ["report", "status", "help"],
        ),
    ],
)
def test_unsure_offers_the_likely_categories_only_when_the_message_is_report_like(
    parse: Parse, stage: Stage, reply: str, buttons: list[str]
) -> None:
    s = make(text=TEXT, parse=parse)
    clarifying.unsure(s, TEXT)
    assert s.state.stage == stage
    assert texts(s)[0].startswith(reply)
    assert payloads(s.turn.replies[0]) == buttons
    if stage == Stage.CLARIFYING:
        assert s.state.slots["description"] == TEXT


def test_unsure_with_only_a_building_keeps_it_and_asks_what_happened() -> None:
    s = make(text="3幢", parse=parse_of("greet", 0.3, entities={"building": "3幢"}))
    clarifying.unsure(s, "3幢")
    assert (s.state.stage, s.state.asking) == (Stage.FILLING, "description")
    assert texts(s) == ["好的，阳光花园社区3幢。请问遇到了什么问题？"]


def clarifying_state() -> DialogueState:
    return DialogueState(
        stage=Stage.CLARIFYING,
        candidates=["report_sanitation", "report_utilities"],
        slots={"description": TEXT},
    )


@pytest.mark.parametrize(
    ("text", "parse", "flow"),
    [
        ("水电气", None, "report_utilities"),  # the button's label, typed
        ("环境卫生！", None, "report_sanitation"),
        ("是下水道的问题", parse_of("report_utilities", 0.8), "report_utilities"),
        ("不知道", None, None),  # asked again
    ],
)
def test_a_typed_answer_picks_a_category_by_label_or_confident_intent(
    text: str, parse: Parse | None, flow: str | None
) -> None:
    s = make(clarifying_state(), text, parse)
    clarifying.on_text(s, text)
    assert s.state.flow == flow
    if flow is None:
        assert s.state.stage == Stage.CLARIFYING
        assert texts(s)[0] == "我想确认一下，您要反映的是哪类问题？"
    else:
        assert (s.state.stage, s.state.asking, s.state.candidates) == (
            Stage.FILLING,
            "building",
            [],
        )


def test_a_category_button_outside_a_report_is_not_understood() -> None:
    s = make(DialogueState(), button="flow:report_noise")
    clarifying.choose_flow(s, "report_noise")
    assert s.state == DialogueState()
    assert texts(s)[0].startswith("抱歉，我没太明白。")
