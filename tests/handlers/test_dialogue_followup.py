"""The resident's side of the lifecycle, as pure dialogue steps: the duplicate offer, adding
information or photos to an open ticket, and followed tickets in the status list."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from handlers.dialogue import (
    AddSupplement,
    CreateTicket,
    DialogueConfig,
    DialogueState,
    FollowTicket,
    ResidentContext,
    Stage,
    TicketBrief,
    draft_from_dict,
    draft_to_dict,
    offer_duplicate,
    step,
)
from handlers.messages import Media, MediaKind
from tests.factories import inbound, parse_of

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CFG = DialogueConfig(clarify_threshold=0.55)
MINE = TicketBrief("MH-20261122-0003", "utilities", "accepted", "5幢")
OTHER = TicketBrief("MH-20261122-0004", "noise", "assigned", "5幢")
CTX = ResidentContext(now=NOW, community_id=1)
DRAFT = CreateTicket(
    intent="report_elevator",
    category="elevator",
    priority="high",
    description="6幢电梯又坏了",
    building_id=6,
    building_name="6幢",
    photos=(12,),
)
PHOTO = (Media(MediaKind.IMAGE, "attachment:7", "image/jpeg"),)


def offered(own: bool = False) -> DialogueState:
    state = DialogueState()
    offer = offer_duplicate(
        state, DRAFT, number="MH-20261122-0001", status="网格员已接单", own=own, locale="zh"
    )
    assert (
        offer.text == "已有相同问题在处理中（工单 MH-20261122-0001，网格员已接单），为您关注进度？"
        or own
    )
    return state


def test_the_offer_holds_the_report_and_offers_follow_or_report_anyway() -> None:
    state = offered()
    assert state.stage == Stage.DUPLICATE and state.draft is not None
    assert state.offered == ["dup:follow", "dup:new"]
    assert draft_from_dict(state.draft) == DRAFT


def test_following_subscribes_instead_of_filing() -> None:
    turn = step(offered(), inbound(button="dup:follow"), None, CTX, CFG)
    assert turn.actions == [FollowTicket("MH-20261122-0001", replace(DRAFT, allow_duplicate=True))]
    assert turn.state.stage == Stage.IDLE and turn.state.draft is None


def test_declining_files_the_held_report_after_all() -> None:
    turn = step(offered(), inbound(button="dup:new"), None, CTX, CFG)
    assert turn.actions == [replace(DRAFT, allow_duplicate=True)]


def test_words_and_numbers_answer_the_offer_too() -> None:
    follow = step(offered(), inbound("好的"), parse_of("affirm"), CTX, CFG)
    assert isinstance(follow.actions[0], FollowTicket)
    anyway = step(offered(), inbound("仍要新报"), parse_of("out_of_scope", 0.3), CTX, CFG)
    assert isinstance(anyway.actions[0], CreateTicket)
    second = step(offered(), inbound("2"), None, CTX, CFG)  # WeChat shows buttons as a list
    assert isinstance(second.actions[0], CreateTicket)


def test_an_unclear_answer_repeats_the_offer_and_never_traps_the_resident() -> None:
    state = offered()
    for _ in range(2):
        turn = step(state, inbound("什么意思"), parse_of("out_of_scope", 0.3), CTX, CFG)
        assert turn.actions == [] and "为您关注进度" in turn.replies[-1].text
        state = turn.state
    turn = step(state, inbound("不知道"), parse_of("out_of_scope", 0.3), CTX, CFG)
    assert turn.actions == [replace(DRAFT, allow_duplicate=True)]


def test_own_earlier_report_offers_adding_to_it() -> None:
    turn = step(offered(own=True), inbound(button="dup:add"), None, CTX, CFG)
    assert turn.actions == [
        AddSupplement(
            "MH-20261122-0001", "6幢电梯又坏了", (12,), replace(DRAFT, allow_duplicate=True)
        )
    ]


def test_cancel_drops_the_held_report() -> None:
    turn = step(offered(), inbound("取消"), parse_of("cancel"), CTX, CFG)
    assert turn.actions == [] and turn.state.draft is None and turn.state.stage == Stage.IDLE


def test_the_held_report_survives_the_session_store() -> None:
    state = offered()
    again = DialogueState.from_dict(state.to_dict())
    assert draft_from_dict(again.draft) == DRAFT and again.ticket == "MH-20261122-0001"
    assert draft_from_dict(draft_to_dict(DRAFT)) == DRAFT


def test_a_stale_offer_button_changes_nothing() -> None:
    turn = step(DialogueState(), inbound(button="dup:follow"), None, CTX, CFG)
    assert turn.actions == [] and "没太明白" in turn.replies[0].text


# --- adding to an open ticket ---------------------------------------------------------------


def test_a_photo_while_a_ticket_is_open_asks_where_it_belongs() -> None:
    ctx = replace(CTX, open_tickets=(MINE,))
    turn = step(DialogueState(), inbound(media=PHOTO), None, ctx, CFG)
    assert turn.actions == []
    assert turn.state.stage == Stage.SUPPLEMENT
    assert [b.payload for b in turn.replies[-1].buttons] == [
        f"supplement:{MINE.number}",
        "newreport",
        "cancel",
    ]
    added = step(turn.state, inbound(button=f"supplement:{MINE.number}"), None, ctx, CFG)
    assert added.actions == [AddSupplement(MINE.number, "", (7,))]


def test_a_photo_can_still_start_a_new_report() -> None:
    ctx = replace(CTX, open_tickets=(MINE,))
    turn = step(DialogueState(), inbound("楼道灯坏了", media=PHOTO), None, ctx, CFG)
    new = step(turn.state, inbound(button="newreport"), parse_of("report_property"), ctx, CFG)
    assert new.state.stage == Stage.FILLING
    assert new.state.slots["photos"] == "7"
    assert new.state.slots["description"] == "楼道灯坏了"


def test_supplement_command_goes_to_the_only_open_ticket() -> None:
    ctx = replace(CTX, open_tickets=(MINE,))
    turn = step(DialogueState(), inbound("补充：水越来越大了"), parse_of("inform"), ctx, CFG)
    assert turn.actions == [AddSupplement(MINE.number, "水越来越大了", ())]


def test_supplement_with_several_open_tickets_asks_which() -> None:
    ctx = replace(CTX, open_tickets=(MINE, OTHER))
    turn = step(DialogueState(), inbound("补充 晚上更吵"), parse_of("inform"), ctx, CFG)
    assert turn.actions == [] and turn.state.stage == Stage.SUPPLEMENT
    assert {b.payload for b in turn.replies[-1].buttons} >= {
        f"supplement:{MINE.number}",
        f"supplement:{OTHER.number}",
    }
    chosen = step(turn.state, inbound(OTHER.number), parse_of("query_status"), ctx, CFG)
    assert chosen.actions == [AddSupplement(OTHER.number, "晚上更吵", ())]


def test_supplement_button_then_text_or_photo() -> None:
    ctx = replace(CTX, open_tickets=(MINE,))
    turn = step(DialogueState(), inbound(button=f"supplement:{MINE.number}"), None, ctx, CFG)
    assert "请发送要补充到工单" in turn.replies[0].text
    photo = step(turn.state, inbound("地上全是水", media=PHOTO), None, ctx, CFG)
    assert photo.actions == [AddSupplement(MINE.number, "地上全是水", (7,))]


def test_someone_elses_ticket_cannot_be_added_to() -> None:
    ctx = replace(CTX, open_tickets=(MINE,))
    turn = step(DialogueState(), inbound(f"补充 {OTHER.number} 很吵"), parse_of("inform"), ctx, CFG)
    assert turn.actions == [] and "无法补充" in turn.replies[0].text


def test_supplement_words_without_an_open_ticket_may_be_a_new_report() -> None:
    turn = step(
        DialogueState(),
        inbound("补充水管爆了"),
        parse_of("report_utilities", text="补充水管爆了"),
        CTX,
        CFG,
    )
    assert turn.state.stage == Stage.FILLING and turn.state.flow == "report_utilities"


def test_status_lists_followed_tickets_and_offers_adding_to_own_ones() -> None:
    ctx = replace(CTX, open_tickets=(MINE,), followed_tickets=(OTHER,))
    turn = step(DialogueState(), inbound("我的工单"), parse_of("query_status"), ctx, CFG)
    text = turn.replies[0].text
    assert MINE.number in text and f"{OTHER.number}" in text and "（关注）" in text
    assert [b.payload for b in turn.replies[0].buttons] == [f"supplement:{MINE.number}"]
