"""The bot cannot help: typed messages it cannot make sense of, several in a row, go to staff."""

from __future__ import annotations

from handlers.dialogue import DialogueState, HandToStaff, Stage, Turn, step
from nlu.types import Parse
from tests.factories import inbound, parse_of
from tests.handlers.dialogue.support import CFG, CTX

GIBBERISH = parse_of("out_of_scope", 0.3)
SHORT_UNSURE = parse_of("report_noise", 0.4, ranking=[("report_noise", 0.4), ("report_leak", 0.3)])


def say(state: DialogueState, text: str, parse: Parse = GIBBERISH) -> tuple[DialogueState, Turn]:
    turn = step(state, inbound(text), parse, CTX, CFG)
    return turn.state, turn


def test_the_third_message_in_a_row_not_understood_goes_to_staff_with_what_was_said() -> None:
    state = DialogueState()
    state, first = say(state, "啊啊啊")
    assert state.stuck == 1 and not first.actions
    state, second = say(state, "嗯嗯那个")
    assert state.stuck == 2 and not second.actions
    state, third = say(state, "就是那个事情你懂的")
    assert third.actions == [HandToStaff(note="就是那个事情你懂的", building_id=None)]
    assert [r.text for r in third.replies] == [
        "抱歉，我几次都没能明白您的意思，已请社区工作人员来帮您。"
    ]
    assert state.stage == Stage.IDLE and state.stuck == 0


def test_asking_back_which_problem_counts_and_a_button_or_an_understood_message_resets() -> None:
    state = DialogueState()
    state, _ = say(state, "那个东西", SHORT_UNSURE)
    assert state.stage == Stage.CLARIFYING and state.stuck == 1
    state, _ = say(state, "就是那个", GIBBERISH)
    assert state.stuck == 2
    chosen = step(state, inbound(button="flow:report_noise"), None, CTX, CFG)
    assert chosen.state.stuck == 0 and not chosen.actions
    state, _ = say(DialogueState(stuck=2), "你好", parse_of("greet", 0.95))
    assert state.stuck == 0


def test_the_count_survives_the_session_store_and_the_limit_is_configurable() -> None:
    from dataclasses import replace

    assert DialogueState.from_dict(DialogueState(stuck=2).to_dict()).stuck == 2
    patient = replace(CFG, stuck_handoff_after=5)
    state = DialogueState(stuck=3)
    turn = step(state, inbound("啊啊"), GIBBERISH, CTX, patient)
    assert turn.state.stuck == 4 and not turn.actions
