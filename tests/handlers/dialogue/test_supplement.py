"""The supplement stage: words or photos for an open ticket, called directly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import AddSupplement, DialogueState, ResidentContext, Stage, supplement
from handlers.messages import Media, MediaKind
from tests.handlers.dialogue.support import (
    CFG,
    CTX,
    FIRST,
    OTHERS,
    SECOND,
    brief,
    make,
    payloads,
    texts,
)

ONE = replace(CTX, open_tickets=(brief(FIRST),))
TWO = replace(CTX, open_tickets=(brief(FIRST), brief(SECOND)))


@pytest.mark.parametrize(
    ("ctx", "text", "action"),
    [
        (ONE, "补充 水越来越大了", AddSupplement(FIRST, "水越来越大了")),
        (ONE, "补充说明：物业来看过了", AddSupplement(FIRST, "物业来看过了")),
        (TWO, f"补充 {SECOND.lower()} 门口也有", AddSupplement(SECOND, "门口也有")),
    ],
)
def test_a_supplement_command_with_content_adds_it_to_the_ticket(
    ctx: ResidentContext, text: str, action: AddSupplement
) -> None:
    s = make(text=text, ctx=ctx)
    assert supplement.start_from_command(s, text)
    assert s.turn.actions == [action]
    assert s.state == DialogueState()


@pytest.mark.parametrize(
    ("ctx", "text", "stage", "ticket", "reply"),
    [
        (TWO, "补充", Stage.SUPPLEMENT, None, "要把内容补充到哪个工单？"),
        (ONE, "补充一下", Stage.SUPPLEMENT, FIRST, f"请发送要补充到工单 {FIRST} 的文字或照片："),
        (TWO, f"补充 {OTHERS} 还没修", Stage.IDLE, None, f"工单 {OTHERS} 不在您进行中的工单里"),
        (CTX, "补充", Stage.IDLE, None, "您目前没有进行中的工单可以补充。"),
    ],
)
def test_a_supplement_command_without_content_or_ticket_asks(
    ctx: ResidentContext, text: str, stage: Stage, ticket: str | None, reply: str
) -> None:
    s = make(text=text, ctx=ctx)
    assert supplement.start_from_command(s, text)
    assert s.turn.actions == []
    assert (s.state.stage, s.state.ticket) == (stage, ticket)
    assert texts(s)[0].startswith(reply)


@pytest.mark.parametrize("text", ["补充 楼道灯不亮了", "楼道灯不亮了"])
def test_without_open_tickets_a_supplement_with_content_may_be_a_new_report(text: str) -> None:
    s = make(text=text)
    assert not supplement.start_from_command(s, text)
    assert s.turn.replies == [] and s.turn.actions == []


def choosing(photos: str = "7", retries: int = 0) -> DialogueState:
    return DialogueState(stage=Stage.SUPPLEMENT, slots={"photos": photos}, retries=retries)


@pytest.mark.parametrize(
    ("state", "text", "handled", "action"),
    [
        (choosing(), SECOND, True, AddSupplement(SECOND, "", (7,))),
        (
            DialogueState(stage=Stage.SUPPLEMENT, ticket=FIRST),
            "师傅来过了但没修好",
            True,
            AddSupplement(FIRST, "师傅来过了但没修好"),
        ),
        (choosing(), "哪个都行", True, None),  # asked again
        (choosing(retries=CFG.max_retries), "哪个都行", False, None),  # given up: read as idle
    ],
)
def test_the_answer_chooses_the_ticket_or_is_the_content(
    state: DialogueState, text: str, handled: bool, action: AddSupplement | None
) -> None:
    s = make(state, text, ctx=TWO)
    assert supplement.on_text(s, text) is handled
    assert s.turn.actions == ([action] if action else [])
    if not handled:
        assert s.state == DialogueState()
    elif action is None:
        assert s.state.retries == 1
        assert texts(s) == ["收到照片。是补充到您正在处理中的工单，还是新报一件事？"]


def test_a_photo_while_tickets_are_open_is_held_and_the_resident_chooses() -> None:
    photo = Media(kind=MediaKind.IMAGE, ref="attachment:8")
    s = make(text="漏得更厉害了", ctx=TWO, media=(photo,))
    supplement.on_media(s, [8])
    assert s.turn.actions == []
    assert s.state.stage == Stage.SUPPLEMENT
    assert s.state.slots == {"photos": "8", "description": "漏得更厉害了"}
    assert payloads(s.turn.replies[0]) == [
        f"supplement:{FIRST}",
        f"supplement:{SECOND}",
        "newreport",
        "cancel",
    ]


def test_a_photo_for_the_chosen_ticket_is_added_with_what_was_held() -> None:
    state = DialogueState(
        stage=Stage.SUPPLEMENT, ticket=FIRST, slots={"photos": "7", "description": "看图"}
    )
    s = make(state, ctx=TWO)
    supplement.on_media(s, [8])
    assert s.turn.actions == [AddSupplement(FIRST, "看图", (7, 8))]


@pytest.mark.parametrize(
    ("number", "action", "stage"),
    [(FIRST, AddSupplement(FIRST, "", (7,)), Stage.IDLE), (OTHERS, None, Stage.IDLE)],
)
def test_a_supplement_button_adds_the_held_photos_to_an_own_open_ticket(
    number: str, action: AddSupplement | None, stage: Stage
) -> None:
    s = make(choosing(), button=f"supplement:{number}", ctx=TWO)
    supplement.on_button(s, number)
    assert s.turn.actions == ([action] if action else [])
    assert s.state.stage == stage
    if action is None:
        assert texts(s)[0].startswith(f"工单 {OTHERS} 不在您进行中的工单里")
