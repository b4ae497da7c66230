"""The entry point: every stage has a text handler; interruptions resume the form."""

from __future__ import annotations

import pytest

from handlers.dialogue import DialogueState, Stage, step
from handlers.dialogue.policy import TEXT_STAGES
from handlers.messages import Media, MediaKind
from tests.factories import inbound, parse_of
from tests.handlers.dialogue.support import CFG, CTX, form_of, make


def test_every_stage_has_a_text_handler() -> None:
    assert set(TEXT_STAGES) == set(Stage)


@pytest.mark.parametrize(
    ("state", "resumed"),
    [
        (form_of(asking="unit"), "是几单元？不清楚可以回复“跳过”。"),
        (DialogueState(stage=Stage.CLARIFYING, candidates=["report_noise"]), "我想确认一下"),
        (DialogueState(stage=Stage.EDITING), "要修改哪一项？"),
        (DialogueState(stage=Stage.SUPPLEMENT, ticket="MH-20261122-0001"), "请发送要补充到工单"),
    ],
)
def test_status_mid_conversation_is_answered_and_the_pending_question_asked_again(
    state: DialogueState, resumed: str
) -> None:
    turn = step(state, inbound("进度"), parse_of("query_status", 0.9), CTX, CFG)
    assert turn.replies[0].text.startswith("您目前没有进行中的工单。")
    assert turn.replies[-1].text.startswith(resumed)
    assert turn.state.stage == state.stage


@pytest.mark.parametrize("stage", [s for s in Stage if s != Stage.IDLE])
def test_cancel_leaves_every_stage(stage: Stage) -> None:
    turn = step(DialogueState(stage=stage, flow="report_noise"), inbound("取消"), None, CTX, CFG)
    assert turn.state.stage == Stage.IDLE
    assert turn.actions == []


def test_new_report_after_a_held_photo_starts_a_report_with_it() -> None:
    state = DialogueState(stage=Stage.SUPPLEMENT, slots={"photos": "7"})
    turn = step(state, inbound(button="newreport"), None, CTX, CFG)
    assert (turn.state.stage, turn.state.asking) == (Stage.FILLING, "description")
    assert turn.state.slots == {"photo": "yes", "photos": "7"}
    assert turn.replies[0].text == "照片收到了。请再用一句话说明是什么问题、在哪一幢楼。"


def test_a_photo_while_filling_joins_the_report_and_the_form_goes_on() -> None:
    s = make(form_of(asking="unit"), media=(Media(kind=MediaKind.IMAGE, ref="attachment:5"),))
    turn = step(s.state, s.msg, None, CTX, CFG)
    assert turn.state.slots["photos"] == "5"
    assert turn.replies[0].text == "照片已收到。"
    assert turn.state.asking == "unit"
