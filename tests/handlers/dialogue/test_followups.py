"""Status, rating and the callback (转人工), called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import (
    DialogueState,
    RateTicket,
    RequestCallback,
    ResidentContext,
    Stage,
    followups,
)
from nlu.types import Parse
from tests.factories import parse_of
from tests.handlers.dialogue.support import (
    BUILDINGS,
    CTX,
    FIRST,
    OTHERS,
    SECOND,
    brief,
    form_of,
    make,
    payloads,
    texts,
)

RESOLVED = replace(CTX, awaiting_rating=(brief(FIRST, "resolved"),))
OPEN = replace(CTX, open_tickets=(brief(FIRST, note="已联系维保"), brief(SECOND)))
FOLLOWING = replace(CTX, followed_tickets=(brief(OTHERS, "accepted"),))


@pytest.mark.parametrize(
    ("ctx", "lines", "buttons"),
    [
        (CTX, ["您目前没有进行中的工单。遇到问题可以直接告诉我。"], []),
        (
            RESOLVED,
            [
                "您的工单：",
                f"{FIRST} 电梯故障｜3幢｜已办结，等待您评价",
                f"请为工单 {FIRST} 的处理打分（1-5星）：",
            ],
            [f"rate:{FIRST}:{n}" for n in (5, 4, 3, 2, 1)],
        ),
        (
            OPEN,
            [
                "您的工单：",
                f"{FIRST} 电梯故障｜3幢｜已派给网格员，等待接单（已联系维保）",
                f"{SECOND} 电梯故障｜3幢｜已派给网格员，等待接单",
            ],
            [f"supplement:{FIRST}", f"supplement:{SECOND}"],
        ),
        (FOLLOWING, ["您的工单：", f"{OTHERS} 电梯故障｜3幢｜网格员已接单（关注）"], []),
    ],
)
def test_status_lists_own_and_followed_tickets_with_what_can_be_done_next(
    ctx: ResidentContext, lines: list[str], buttons: list[str]
) -> None:
    s = make(text="进度", ctx=ctx)
    followups.show_status(s, "进度")
    [reply] = s.turn.replies
    assert reply.text.split("\n") == lines
    assert payloads(reply) == buttons


def test_status_of_a_named_ticket_lists_only_that_one() -> None:
    s = make(text=f"{SECOND}进度", ctx=OPEN)
    followups.show_status(s, f"{SECOND}进度")
    assert texts(s)[0].split("\n")[1:] == [f"{SECOND} 电梯故障｜3幢｜已派给网格员，等待接单"]


@pytest.mark.parametrize(
    ("number", "action"),
    [(FIRST, RateTicket(FIRST, 4, "4分")), (SECOND, None)],
)
def test_only_a_ticket_awaiting_the_rating_is_rated(number: str, action: RateTicket | None) -> None:
    s = make(text="4分", ctx=RESOLVED)
    followups.rate(s, number, 4)
    assert s.turn.actions == ([action] if action else [])
    assert texts(s) == ([] if action else ["目前没有需要评价的工单。"])


@pytest.mark.parametrize(
    ("ctx", "state", "action", "stage"),
    [
        # a remembered phone: the callback goes at once, to the home building's worker
        (
            replace(CTX, phone="13900001111", home=BUILDINGS[1]),
            DialogueState(),
            RequestCallback("13900001111", 2, "找人工"),
            Stage.IDLE,
        ),
        # mid-report: the report's building, and what was told so far goes with it
        (
            replace(CTX, phone="13900001111", home=BUILDINGS[1]),
            form_of(),
            RequestCallback("13900001111", 3, "电梯坏了；3幢；找人工"),
            Stage.IDLE,
        ),
        (CTX, DialogueState(), None, Stage.CALLBACK_PHONE),  # no phone: asked first
    ],
)
def test_a_person_is_asked_to_call_back_once_a_phone_is_known(
    ctx: ResidentContext, state: DialogueState, action: RequestCallback | None, stage: Stage
) -> None:
    s = make(state, "找人工", parse_of("human_agent", 0.9), ctx=ctx)
    followups.request_callback(s)
    assert s.turn.actions == ([action] if action else [])
    assert s.state.stage == stage
    if action is None:
        assert texts(s) == ["好的，请先留个手机号，我马上请网格员给您回电。"]
        assert s.turn.replies[0].data["ask"] == "phone"


@pytest.mark.parametrize(
    ("text", "parse", "action", "reply"),
    [
        (
            "13812345678",
            parse_of("inform", 0.9, entities={"phone": "13812345678"}),
            RequestCallback("13812345678", None, ""),
            None,
        ),
        ("不用", None, None, "好的，已取消这次报事。有需要随时再找我。"),
        ("打给我", None, None, "这个号码好像不对，请回复11位手机号或座机号，或回复“跳过”。"),
    ],
)
def test_the_callback_phone_is_taken_declined_or_asked_again(
    text: str, parse: Parse | None, action: RequestCallback | None, reply: str | None
) -> None:
    s = make(DialogueState(stage=Stage.CALLBACK_PHONE), text, parse)
    followups.on_callback_phone(s, text)
    assert s.turn.actions == ([action] if action else [])
    assert texts(s) == ([reply] if reply else [])
    expected = Stage.CALLBACK_PHONE if reply and reply.startswith("这个号码") else Stage.IDLE
    assert s.state.stage == expected
