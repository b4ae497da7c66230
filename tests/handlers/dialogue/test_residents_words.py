"""The resident's words are never lost, and command words are never answers (pure steps).

Address-first messages keep their problem, answers after a clarification join the
description, a unit/room/plate answer must look like one, and 转人工 / 取消 / 进度 / 帮助
typed inside a form do what they say.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.dialogue import CreateTicket, DialogueState, RequestCallback, Stage, step
from handlers.messages import Outbound
from nlu.types import Entity, IntentScore, Parse
from tests.factories import inbound
from tests.handlers.dialogue.support import CFG, CTX, form_of


def parse(text: str, ranking: list[tuple[str, float]], **entities: str) -> Parse:
    """A parse whose entities sit where their words are in ``text``."""
    ents = []
    for kind, value in entities.items():
        start = text.find(value)
        ents.append(Entity(kind, value, start, start + len(value), value, "test"))
    scores = tuple(IntentScore(n, c) for n, c in ranking)
    return Parse(text, scores[0], scores, tuple(sorted(ents, key=lambda e: e.start)))


def said(replies: list[Outbound]) -> str:
    return "\n".join(r.text for r in replies)


ADDRESS_FIRST = "3号楼2单元501门口有辆车堵住了消防通道，车牌浙A12345"


def test_an_address_first_report_keeps_its_problem_and_is_filed_under_it() -> None:
    p = parse(
        ADDRESS_FIRST,
        [("inform", 0.62), ("report_parking", 0.33), ("report_safety", 0.03)],
        building="3号楼",
        unit="2单元",
        room="501",
        plate="浙A12345",
    )
    p = replace(
        p,
        entities=tuple(replace(e, value="3幢") if e.type == "building" else e for e in p.entities),
    )
    turn = step(DialogueState(), inbound(ADDRESS_FIRST), p, CTX, CFG)
    assert turn.state.flow == "report_parking"
    assert turn.state.slots["description"] == ADDRESS_FIRST
    assert turn.state.slots["building_id"] == "3"
    assert "请问遇到了什么问题" not in said(turn.replies)


def test_an_address_first_report_without_a_sure_reading_is_asked_back_with_its_words() -> None:
    text = "5号楼1单元门口那个东西一直没人管"
    p = parse(
        text,
        [("inform", 0.5), ("report_property", 0.2), ("report_sanitation", 0.18)],
        building="5号楼",
        unit="1单元",
    )
    turn = step(DialogueState(), inbound(text), p, CTX, CFG)
    assert turn.state.stage == Stage.CLARIFYING
    assert turn.state.slots["description"] == text
    assert [b.payload for b in turn.replies[-1].buttons][:2] == [
        "flow:report_property",
        "flow:report_sanitation",
    ]


def test_details_alone_still_ask_what_happened() -> None:
    text = "3号楼2单元501"
    p = parse(text, [("inform", 0.95)], building="3号楼", unit="2单元", room="501")
    turn = step(DialogueState(), inbound(text), p, CTX, CFG)
    assert turn.state.asking == "description"
    assert "description" not in turn.state.slots


def test_after_a_clarification_the_real_problem_joins_the_description() -> None:
    state = DialogueState(
        stage=Stage.CLARIFYING,
        candidates=["report_utilities", "report_property"],
        slots={"description": "家里有点问题"},
    )
    turn = step(state, inbound(button="flow:report_utilities"), None, CTX, CFG)
    assert turn.state.asking == "building"
    answer = "2号楼3单元 家里停水一整天了"
    p = parse(answer, [("report_utilities", 0.7)], building="2号楼", unit="3单元")
    p = replace(
        p,
        entities=tuple(replace(e, value="2幢") if e.type == "building" else e for e in p.entities),
    )
    turn = step(turn.state, inbound(answer), p, CTX, CFG)
    assert turn.state.slots["description"] == f"家里有点问题；{answer}"
    assert turn.state.slots["building_id"] == "2"


def test_a_typed_answer_to_which_kind_keeps_its_words() -> None:
    state = DialogueState(
        stage=Stage.CLARIFYING,
        candidates=["report_utilities", "report_property"],
        slots={"description": "家里有点问题"},
    )
    answer = "厨房水管一直在漏水"
    turn = step(state, inbound(answer), parse(answer, [("report_utilities", 0.93)]), CTX, CFG)
    assert turn.state.flow == "report_utilities"
    assert turn.state.slots["description"] == f"家里有点问题；{answer}"


@pytest.mark.parametrize(
    ("asking", "answer", "stored"),
    [
        ("unit", "2", "2"),
        ("unit", "二单元", "二"),
        ("room", "501室", "501"),
        ("room", "不在家", ""),
        ("room", "6幢", ""),
        ("plate", "浙A12345", "浙A12345"),
        ("plate", "没看清楚", ""),
    ],
)
def test_a_unit_room_or_plate_answer_is_stored_only_when_it_looks_like_one(
    asking: str, answer: str, stored: str
) -> None:
    state = form_of("report_parking" if asking == "plate" else "report_noise", asking)
    turn = step(state, inbound(answer), parse(answer, [("inform", 0.6)]), CTX, CFG)
    assert turn.state.slots.get(asking, "") == stored


@pytest.mark.parametrize("word", ["转人工", "人工客服", "6幢转人工", "我要找人工"])
@pytest.mark.parametrize("asking", ["unit", "room", "phone", "building"])
def test_asking_for_a_person_inside_a_form_calls_back_and_is_never_an_answer(
    word: str, asking: str
) -> None:
    ctx = replace(CTX, phone="13900001111")
    state = form_of("report_noise", asking)
    turn = step(state, inbound(word), parse(word, [("out_of_scope", 0.4)]), ctx, CFG)
    [action] = turn.actions
    assert isinstance(action, RequestCallback)
    assert action.phone == "13900001111"
    assert action.note.startswith("电梯坏了")
    assert turn.state.stage == Stage.IDLE
    assert "会尽快打电话联系您" not in said(turn.replies)  # the service says who calls back


@pytest.mark.parametrize(
    ("word", "stage", "reply"),
    [
        ("取消", Stage.IDLE, "已取消"),
        ("进度", Stage.FILLING, "工单"),
        ("帮助", Stage.FILLING, "报事"),
    ],
)
def test_cancel_status_and_help_inside_a_form_do_what_they_say(
    word: str, stage: Stage, reply: str
) -> None:
    state = form_of("report_noise", "room")
    turn = step(state, inbound(word), parse(word, [("out_of_scope", 0.4)]), CTX, CFG)
    assert turn.state.stage == stage
    assert reply in said(turn.replies)
    assert word not in turn.state.slots.get("room", "")
    assert not any(isinstance(a, CreateTicket) for a in turn.actions)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("尊敬的领导：您好！我是阳光花园小区的一名普通居民。", "out_of_scope"),
        ("王主任您好，冒昧打扰，想跟您反映一下我们这边的情况", "greet"),
        ("我们是幸福里小区全体业主代表，有事情向社区汇报", "inform"),
    ],
)
def test_a_letter_the_classifier_is_unsure_of_is_asked_back_not_turned_away(
    text: str, intent: str
) -> None:
    p = parse(text, [(intent, 0.5), ("report_other", 0.2), ("report_property", 0.1)])
    turn = step(DialogueState(), inbound(text), p, CTX, CFG)
    assert turn.state.stage == Stage.CLARIFYING
    assert turn.state.slots["description"] == text
    assert [b.payload for b in turn.replies[-1].buttons] == [
        "flow:report_other",
        "flow:report_property",
    ]


@pytest.mark.parametrize("text", ["今天天气怎么样", "你是机器人吗", "asdfghjkl"])
def test_short_chat_is_still_out_of_scope(text: str) -> None:
    p = parse(text, [("out_of_scope", 0.6), ("report_other", 0.2)])
    turn = step(DialogueState(), inbound(text), p, CTX, CFG)
    assert turn.state.stage == Stage.IDLE
    assert turn.actions == []


@pytest.mark.parametrize(
    ("text", "ranking", "buttons"),
    [
        # a letter read as 其他问题 while a specific category has a real share: asked back,
        # 其他问题 first, the specific readings beside it, the words kept
        (
            "尊敬的领导：我们小区北面的屠宰场每天半夜开工，腥臭味飘进小区，恳请处理！",
            [("report_other", 0.9), ("report_sanitation", 0.05), ("report_noise", 0.03)],
            ["flow:report_other", "flow:report_sanitation", "flow:report_noise"],
        ),
        (
            "关于某某小区交房三年还没通天然气的问题",
            [("report_other", 0.93), ("inform", 0.02), ("report_utilities", 0.04)],
            ["flow:report_other", "flow:report_utilities"],
        ),
    ],
)
def test_a_catch_all_reading_close_to_a_specific_category_is_asked_back(
    text: str, ranking: list[tuple[str, float]], buttons: list[str]
) -> None:
    turn = step(DialogueState(), inbound(text), parse(text, ranking), CTX, CFG)
    assert turn.state.stage == Stage.CLARIFYING
    assert turn.state.slots["description"] == text
    assert [b.payload for b in turn.replies[-1].buttons] == buttons
    assert not any(isinstance(a, CreateTicket) for a in turn.actions)


@pytest.mark.parametrize(
    ("text", "ranking", "flow"),
    [
        # nothing specific in sight: 其他问题 is filed for community staff at once
        (
            "新生儿上户口要带什么证件",
            [("report_other", 0.97), ("report_property", 0.01)],
            "report_other",
        ),
        # a specific category is filed at once whatever 其他问题's share
        (
            "楼下烧烤店油烟太大了",
            [("report_sanitation", 0.9), ("report_other", 0.08)],
            "report_sanitation",
        ),
    ],
)
def test_a_sure_reading_starts_its_form_at_once(
    text: str, ranking: list[tuple[str, float]], flow: str
) -> None:
    turn = step(DialogueState(), inbound(text), parse(text, ranking), CTX, CFG)
    assert turn.state.stage == Stage.FILLING
    assert turn.state.flow == flow


@pytest.mark.parametrize(
    ("ranking", "buttons"),
    [
        # 其他问题 among the likeliest: it and the three likeliest specific categories
        (
            [
                ("report_other", 0.6),
                ("report_property", 0.1),
                ("report_noise", 0.05),
                ("inform", 0.04),
                ("report_sanitation", 0.03),
                ("report_parking", 0.02),
            ],
            ["report_other", "report_property", "report_noise", "report_sanitation"],
        ),
        # 其他问题 further down: the three likeliest specific ones, then 都不是 (→ 其他问题)
        (
            [
                ("report_property", 0.5),
                ("report_parking", 0.2),
                ("report_noise", 0.1),
                ("report_other", 0.05),
            ],
            ["report_property", "report_parking", "report_noise", "report_other"],
        ),
    ],
)
def test_asking_back_offers_three_specific_categories_and_the_catch_all(
    ranking: list[tuple[str, float]], buttons: list[str]
) -> None:
    text = "我们这边的情况比较复杂，好几年了一直没有解决，希望领导重视"
    turn = step(DialogueState(), inbound(text), parse(text, ranking), CTX, CFG)
    assert turn.state.stage == Stage.CLARIFYING
    assert [b.payload for b in turn.replies[-1].buttons] == [f"flow:{b}" for b in buttons]
