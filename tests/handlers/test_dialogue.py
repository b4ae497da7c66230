"""The dialogue policy as a specification: pure steps, no storage, no NLU model, no event loop."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from handlers.address import BuildingRef
from handlers.dialogue import (
    AddContactPhone,
    CreateTicket,
    DialogueConfig,
    DialogueState,
    RateTicket,
    RequestCallback,
    ResidentContext,
    Stage,
    TicketBrief,
    parse_rating,
    step,
)
from handlers.messages import GeoPoint, Media, MediaKind
from tests.factories import inbound, parse_of

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
BUILDINGS = tuple(
    BuildingRef(
        id=n,
        name=f"{n}幢",
        aliases=(f"{n}号楼", f"{n}栋"),
        community_id=1,
        community="阳光花园社区",
        grid_id=1,
        latitude=30.27 + n * 0.001,
        longitude=120.15,
    )
    for n in range(1, 6)
)
CTX = ResidentContext(now=NOW, buildings=BUILDINGS, community_id=1)
CFG = DialogueConfig(clarify_threshold=0.55)


def run(state: DialogueState, text: str = "", parse=None, ctx=CTX, **kw):  # type: ignore[no-untyped-def]
    return step(state, inbound(text, **kw), parse, ctx, CFG)


def report(intent: str, text: str, **entities: str):  # type: ignore[no-untyped-def]
    return parse_of(intent, 0.93, text=text, entities=entities)


def test_asks_for_building_when_only_the_problem_is_known() -> None:
    turn = run(DialogueState(), "电梯坏了", report("report_elevator", "电梯坏了"))
    assert turn.state.stage == Stage.FILLING
    assert turn.state.asking == "building"
    assert turn.replies[0].text.startswith("请问是哪一幢")
    assert turn.actions == []


def test_files_urgent_report_at_once_and_asks_phone_after_when_someone_is_trapped() -> None:
    parse = report("report_elevator", "3幢电梯坏了，有人被困", building="3幢", urgency="urgent")
    turn = run(DialogueState(), "3幢电梯坏了，有人被困", parse)
    [action] = turn.actions
    assert isinstance(action, CreateTicket)
    assert (action.category, action.priority, action.building_id) == ("elevator", "urgent", 3)
    assert action.followup_phone
    assert "96333" in turn.replies[0].text
    assert turn.after[0].text.startswith("为了让网格员马上联系到您")
    assert turn.state.stage == Stage.FOLLOWUP_PHONE


def test_urgent_report_uses_remembered_phone_without_asking() -> None:
    ctx = replace(CTX, phone="13900001111")
    parse = report("report_safety", "5号楼楼道着火了", building="5幢", urgency="urgent")
    turn = run(DialogueState(), "5号楼楼道着火了", parse, ctx=ctx)
    [action] = turn.actions
    assert isinstance(action, CreateTicket)
    assert not action.followup_phone
    assert turn.after == []


def test_normal_report_walks_through_questions_then_confirms_before_filing() -> None:
    state = DialogueState()
    turn = run(state, "楼下天天有人乱停车", report("report_parking", "楼下天天有人乱停车"))
    assert turn.state.asking == "building"
    turn = run(turn.state, "2号楼", parse_of("inform", entities={"building": "2幢"}))
    assert turn.state.slots["building_id"] == "2"
    assert turn.state.asking == "plate"
    turn = run(turn.state, "浙A12345", parse_of("inform", entities={"plate": "浙A12345"}))
    assert turn.state.asking == "photo"
    turn = run(turn.state, button="skip")
    assert turn.state.asking == "phone"
    turn = run(turn.state, "13812345678", parse_of("inform", entities={"phone": "13812345678"}))
    assert turn.state.stage == Stage.CONFIRMING
    summary = turn.replies[-1]
    assert "违规停车" in summary.text and "阳光花园社区2幢" in summary.text
    assert "138****5678" in summary.text and "浙A12345" in summary.text
    assert [b.payload for b in summary.buttons] == ["confirm", "edit", "cancel"]
    turn = run(turn.state, button="confirm")
    [action] = turn.actions
    assert isinstance(action, CreateTicket)
    assert action.extra["plate"] == "浙A12345" and action.phone == "13812345678"
    assert turn.state.stage == Stage.IDLE


@pytest.mark.parametrize(
    ("stage_text", "parse"),
    [
        ("取消", None),
        ("算了不报了", parse_of("cancel")),
    ],
)
def test_cancel_works_at_any_point_when_filling(stage_text: str, parse) -> None:  # type: ignore[no-untyped-def]
    turn = run(DialogueState(), "漏水了", report("report_utilities", "漏水了"))
    turn = run(turn.state, stage_text, parse)
    assert turn.state.stage == Stage.IDLE
    assert turn.replies[0].text.startswith("好的，已取消")
    assert turn.actions == []


def test_status_question_mid_form_is_answered_and_the_form_resumes() -> None:
    ctx = replace(
        CTX,
        open_tickets=(TicketBrief("MH-20261121-0003", "noise", "accepted", "3幢"),),
    )
    turn = run(DialogueState(), "楼上装修太吵", report("report_noise", "楼上装修太吵"), ctx=ctx)
    assert turn.state.asking == "building"
    turn = run(turn.state, "进度", parse_of("query_status"), ctx=ctx)
    assert "MH-20261121-0003" in turn.replies[0].text
    assert "网格员已接单" in turn.replies[0].text
    assert turn.replies[-1].text.startswith("请问是哪一幢")
    assert turn.state.asking == "building"


def test_unclear_message_offers_top_categories_as_choices() -> None:
    parse = parse_of(
        "report_property",
        0.31,
        text="门口那个东西一直没人管",
        ranking=[
            ("report_property", 0.31),
            ("report_sanitation", 0.29),
            ("greet", 0.1),
            ("report_safety", 0.08),
        ],
    )
    turn = run(DialogueState(), "门口那个东西一直没人管", parse)
    assert turn.state.stage == Stage.CLARIFYING
    payloads = [b.payload for b in turn.replies[0].buttons]
    assert payloads == [
        "flow:report_property",
        "flow:report_sanitation",
        "flow:report_safety",
        "flow:report_other",
    ]
    turn = run(turn.state, button="flow:report_sanitation")
    assert turn.state.flow == "report_sanitation"
    assert turn.state.slots["description"] == "门口那个东西一直没人管"
    assert turn.state.asking == "building"


def test_numbered_reply_picks_a_button_on_text_only_channels() -> None:
    parse = parse_of(
        "report_property", 0.3, ranking=[("report_property", 0.3), ("report_noise", 0.25)]
    )
    turn = run(DialogueState(), "这事谁管", parse)
    turn = run(turn.state, "2")
    assert turn.state.flow == "report_noise"


def test_idle_conversation_expires_after_ttl() -> None:
    turn = run(DialogueState(), "漏水了", report("report_utilities", "漏水了"))
    later = replace(CTX, now=NOW + timedelta(seconds=CFG.ttl_seconds + 1))
    turn = run(turn.state, "3幢", parse_of("inform", entities={"building": "3幢"}), ctx=later)
    assert turn.replies[0].text.startswith("您上次未完成的报事已超时")
    assert turn.state.stage == Stage.FILLING  # "3幢" alone starts a new report at 3幢
    assert turn.state.slots.get("building_id") == "3"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("五星", 5),
        ("4分", 4),
        ("满意", 5),
        ("非常满意！", 5),
        ("不满意", 2),
        ("很不满意", 1),
        ("一般", 3),
        ("电梯坏了", None),
        ("", None),
    ],
)
def test_rating_words_map_to_scores(text: str, score: int | None) -> None:
    assert parse_rating(text) == score


def test_rating_reply_rates_the_resolved_ticket() -> None:
    ctx = replace(CTX, awaiting_rating=(TicketBrief("MH-20261122-0001", "elevator", "resolved"),))
    turn = run(DialogueState(), "不满意", parse_of("rate"), ctx=ctx)
    assert turn.actions == [RateTicket("MH-20261122-0001", 2, "不满意")]


def test_rating_button_for_another_ticket_changes_nothing() -> None:
    turn = run(DialogueState(), button="rate:MH-20261122-0099:5")
    assert turn.actions == []
    assert turn.replies[0].text.startswith("目前没有需要评价")


def test_unknown_building_lists_the_registered_ones() -> None:
    turn = run(DialogueState(), "垃圾好几天没人收", report("report_sanitation", "垃圾没人收"))
    turn = run(turn.state, "99幢", parse_of("inform", entities={"building": "99幢"}))
    assert "没有找到“99幢”" in turn.replies[0].text
    assert "1幢、2幢" in turn.replies[0].text
    assert turn.state.asking == "building"


def test_building_question_gives_up_gracefully_after_retries() -> None:
    turn = run(DialogueState(), "有人打架", report("report_dispute", "有人打架"))
    for _ in range(CFG.max_retries):
        turn = run(turn.state, "就在那边", parse_of("inform", 0.4))
        assert turn.state.asking == "building"
    turn = run(turn.state, "小区东门花坛", parse_of("inform", 0.4))
    assert turn.state.slots["location_note"] == "小区东门花坛"
    assert turn.state.asking == "phone"


@pytest.mark.parametrize("word", ["3号楼", "三幢", "3栋", "阳光花园3幢"])
def test_building_aliases_resolve_when_resident_types_them(word: str) -> None:
    turn = run(DialogueState(), "楼道灯不亮", report("report_property", "楼道灯不亮"))
    turn = run(turn.state, word, parse_of("inform", 0.5))
    assert turn.state.slots.get("building_id") == "3"


def test_photo_out_of_the_blue_starts_a_report_and_is_kept() -> None:
    photo = (Media(MediaKind.IMAGE, "attachment:7", "image/jpeg"),)
    turn = run(DialogueState(), media=photo)
    assert turn.state.asking == "description"
    assert turn.replies[0].text.startswith("照片收到了")
    parse = report("report_sanitation", "楼道堆满垃圾", building="4幢")
    turn = run(turn.state, "4幢楼道堆满垃圾", parse)
    assert turn.state.flow == "report_sanitation"
    assert turn.state.slots["photos"] == "7"


def test_location_maps_to_the_nearest_building() -> None:
    point = GeoPoint(30.27 + 2 * 0.001, 120.15)
    turn = run(DialogueState(), location=point)
    assert turn.state.slots["building_id"] == "2"
    assert "2幢附近" in turn.replies[0].text


def test_followup_phone_is_added_to_the_urgent_ticket() -> None:
    state = DialogueState(stage=Stage.FOLLOWUP_PHONE, ticket="MH-20261122-0001")
    turn = run(state, "13812345678", parse_of("inform", entities={"phone": "13812345678"}))
    assert turn.actions == [AddContactPhone("MH-20261122-0001", "13812345678")]


def test_human_agent_asks_for_phone_then_requests_callback() -> None:
    turn = run(DialogueState(), "我要找真人", parse_of("human_agent"))
    assert turn.state.stage == Stage.CALLBACK_PHONE
    turn = run(turn.state, "13900002222", parse_of("inform", entities={"phone": "13900002222"}))
    [action] = turn.actions
    assert isinstance(action, RequestCallback) and action.phone == "13900002222"


@pytest.mark.parametrize(
    ("text", "parse", "starts"),
    [
        ("你好", parse_of("greet"), "您好，这里是“民呼”"),
        ("今天天气怎么样", parse_of("out_of_scope"), "抱歉，这个问题不在"),
        ("谢谢", parse_of("thanks"), "不客气"),
        ("帮助", None, "使用方法"),
        (
            "嗯嗯",
            parse_of("affirm", 0.2, ranking=[("affirm", 0.2), ("greet", 0.1)]),
            "抱歉，我没太明白",
        ),
        ("取消", parse_of("cancel"), "当前没有正在填写"),
        ("进度", parse_of("query_status"), "您目前没有进行中的工单"),
    ],
)
def test_conversational_messages_get_the_right_answer_when_idle(
    text: str, parse, starts: str
) -> None:  # type: ignore[no-untyped-def]
    turn = run(DialogueState(), text, parse)
    assert turn.replies[0].text.startswith(starts)
    assert turn.actions == []


def test_empty_message_gets_a_polite_reply() -> None:
    turn = run(DialogueState(), "   ")
    assert turn.replies[0].text.startswith("您好像发了一条空消息")


def test_forged_button_payload_changes_nothing() -> None:
    state = DialogueState(stage=Stage.FILLING, flow="report_noise", asking="building")
    turn = run(state, button="flow:drop_tables")
    assert turn.state.flow == "report_noise"
    assert turn.actions == []


def test_state_round_trips_through_json() -> None:
    turn = run(DialogueState(), "楼上漏水", report("report_utilities", "楼上漏水", building="3幢"))
    again = DialogueState.from_dict(turn.state.to_dict())
    assert again == turn.state


def test_edit_from_confirmation_changes_one_field_and_confirms_again() -> None:
    ctx = replace(CTX, phone="13900001111")
    turn = run(
        DialogueState(),
        "3幢门禁坏了",
        report("report_property", "3幢门禁坏了", building="3幢"),
        ctx=ctx,
    )
    turn = run(turn.state, button="skip", ctx=ctx)  # no photo
    assert turn.state.stage == Stage.CONFIRMING
    turn = run(turn.state, button="edit", ctx=ctx)
    turn = run(turn.state, button="edit:building", ctx=ctx)
    assert turn.state.asking == "building"
    turn = run(turn.state, "5号楼", parse_of("inform", entities={"building": "5幢"}), ctx=ctx)
    assert turn.state.stage == Stage.CONFIRMING
    assert "5幢" in turn.replies[-1].text
