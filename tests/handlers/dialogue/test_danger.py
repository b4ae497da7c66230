"""Danger first, as a specification: every phrasing of the danger set, in every stage, is filed
as urgent at once with its advice and no question before it; negations stay ordinary.

The parses carry the safety layer's real hazards (``nlu.detect_hazards``, pure rules) and, on
purpose, a weak or wrong intent: danger must not depend on the classifier being sure.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

import nlu
from handlers.dialogue import CreateTicket, DialogueState, Stage, step
from handlers.dialogue.danger import advice_text
from handlers.dialogue.types import draft_to_dict
from handlers.i18n import t
from handlers.messages import Media, MediaKind
from handlers.notices import TicketFacts, task_card
from nlu.types import Entity, IntentScore, Parse
from tests.factories import inbound
from tests.handlers.dialogue.support import CFG, CTX, brief, form_of

DANGER = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "data" / "danger.yml").read_text("utf-8")
)
ADVICE_WORDS = {
    "96333": "96333",
    "119": "119",
    "110": "110",
    "120": "120",
    "gas": "燃气公司",
    "power": "95598",
}


def danger_parse(
    text: str, intent: str = "out_of_scope", confidence: float = 0.4, **entities: str
) -> Parse:
    """The message's real hazards with a classifier reading that is weak (or wrong)."""
    ents = tuple(Entity(k, v, 0, len(v), v, "test") for k, v in entities.items())
    ranking = (IntentScore(intent, confidence), IntentScore("report_other", 0.1))
    hazards = nlu.detect_hazards(text)
    return Parse(text, ranking[0], ranking, ents, hazards)


def dangerous() -> list[Any]:
    return [
        pytest.param(text, tuple(group["advice"]), id=f"{group['hazard']}-{i}")
        for group in DANGER["dangerous"]
        for i, text in enumerate(group["texts"])
    ]


def filed(turn: Any) -> CreateTicket:
    [action] = turn.actions
    assert isinstance(action, CreateTicket)
    return action


@pytest.mark.parametrize(("text", "advice"), dangerous())
def test_every_dangerous_phrasing_is_filed_urgent_at_once_with_its_advice(
    text: str, advice: tuple[str, ...]
) -> None:
    turn = step(DialogueState(), inbound(text), danger_parse(text), CTX, CFG)
    ticket = filed(turn)
    assert ticket.priority == "urgent"
    assert ticket.description == text
    assert ticket.extra["hazards"]
    first = turn.replies[0].text
    assert first.startswith("⚠️ 情况紧急")
    for code in advice:
        assert ADVICE_WORDS[code] in first, (text, code)
    # nothing asked before the ticket: the only replies are the advice (the phone comes after)
    assert len(turn.replies) == 1
    assert not turn.replies[0].buttons


@pytest.mark.parametrize("text", DANGER["negated"])
def test_negated_past_and_hypothetical_mentions_are_not_filed_urgent(text: str) -> None:
    parse = danger_parse(text, "report_safety", 0.9)
    turn = step(DialogueState(), inbound(text), parse, CTX, CFG)
    assert all(not r.text.startswith("⚠️") for r in turn.replies)
    assert all(isinstance(a, CreateTicket) and a.priority != "urgent" for a in turn.actions)


LIFT = "电梯卡住了，里面有人"
STAGES = [
    pytest.param(DialogueState(), id="idle"),
    pytest.param(form_of("report_elevator", "unit"), id="filling-unit"),
    pytest.param(form_of("report_elevator", "phone"), id="filling-phone"),
    pytest.param(DialogueState(stage=Stage.FILLING, asking="description"), id="asked-to-describe"),
    pytest.param(
        DialogueState(
            stage=Stage.CLARIFYING,
            candidates=["report_elevator", "report_property"],
            slots={"description": "家里有点问题"},
        ),
        id="clarifying",
    ),
    pytest.param(replace(form_of("report_elevator"), stage=Stage.CONFIRMING), id="confirming"),
    pytest.param(DialogueState(stage=Stage.CALLBACK_PHONE), id="callback-phone"),
    pytest.param(DialogueState(stage=Stage.FOLLOWUP_PHONE, ticket="MH-1"), id="followup-phone"),
]


@pytest.mark.parametrize("state", STAGES)
def test_danger_inside_any_stage_files_at_once_and_keeps_the_report_so_far(
    state: DialogueState,
) -> None:
    turn = step(state, inbound(LIFT), danger_parse(LIFT), CTX, CFG)
    ticket = filed(turn)
    assert (ticket.priority, ticket.category) == ("urgent", "elevator")
    assert "96333" in turn.replies[0].text
    earlier = state.slots.get("description", "")
    assert ticket.description == (f"{earlier}；{LIFT}" if earlier else LIFT)
    if state.slots.get("building_id"):
        assert ticket.building_id == 3


def test_a_photo_caption_with_danger_files_urgent_with_the_photo_even_with_open_tickets() -> None:
    text = "8幢配电箱冒火花"
    ctx = replace(CTX, open_tickets=(brief("MH-20261122-0001"),))
    photo = Media(MediaKind.IMAGE, "attachment:7")
    msg = inbound(text, media=(photo,))
    turn = step(DialogueState(), msg, danger_parse(text, building="8幢"), ctx, CFG)
    ticket = filed(turn)
    assert ticket.priority == "urgent"
    assert ticket.photos == (7,)
    assert "119" in turn.replies[0].text and "95598" in turn.replies[0].text


def test_several_hazards_give_every_advice_most_life_saving_first() -> None:
    text = "楼下有人打架拿着刀，有人流了很多血倒在地上"
    turn = step(DialogueState(), inbound(text), danger_parse(text), CTX, CFG)
    first = turn.replies[0].text
    assert "120" in first and "110" in first
    assert first.index("120") < first.index("110")
    assert filed(turn).priority == "urgent"


def test_a_known_building_is_kept_and_the_phone_is_asked_after_filing() -> None:
    text = "3号楼电梯困了一个老人"
    turn = step(DialogueState(), inbound(text), danger_parse(text, building="3幢"), CTX, CFG)
    ticket = filed(turn)
    assert (ticket.building_id, ticket.followup_phone) == (3, True)
    assert turn.state.stage == Stage.FOLLOWUP_PHONE
    assert turn.after[0].text == t("urgent.followup_phone")


def test_a_confident_report_reading_chooses_the_category() -> None:
    text = "很大的煤气味"
    turn = step(
        DialogueState(), inbound(text), danger_parse(text, "report_utilities", 0.9), CTX, CFG
    )
    assert filed(turn).category == "utilities"
    assert "燃气公司" in turn.replies[0].text
    assert "119" not in turn.replies[0].text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("9幢楼下有人打架，流了很多血", "dispute"),
        ("2幢有人触电了", "safety"),
        ("电梯停在半空，我妈在里面出不来", "elevator"),
    ],
)
def test_without_a_confident_reading_the_hazard_chooses_the_category(
    text: str, category: str
) -> None:
    turn = step(DialogueState(), inbound(text), danger_parse(text), CTX, CFG)
    assert filed(turn).category == category


def test_the_task_card_says_why_it_is_urgent() -> None:
    text = "电梯卡住了，里面有人"
    ticket = filed(step(DialogueState(), inbound(text), danger_parse(text), CTX, CFG))
    facts = TicketFacts(
        number="MH-20261122-0001",
        category=ticket.category,
        priority=ticket.priority,
        status="assigned",
        description=ticket.description,
        hazards=ticket.extra["hazards"],
        hazard_cues=ticket.extra["hazard_cues"],
    )
    card = task_card(facts)
    assert "【紧急】" in card.text
    assert "紧急原因：有人被困（居民原话：“" in card.text
    assert card.data["urgent_reason"].startswith("有人被困")
    english = task_card(facts, "en")
    assert "Why urgent: someone trapped" in english.text


def test_advice_text_in_english() -> None:
    lift = nlu.detect_hazards("电梯卡住了，里面有人")
    assert "96333" in advice_text(lift, "en")
    assert advice_text(nlu.detect_hazards("楼道里有人打架"), "en").startswith("⚠️ This is urgent")


@pytest.mark.parametrize(
    ("text", "says", "never"),
    [
        # the words fit the hazard, not only the number: 110 for a child alone is not a fight
        ("我家孩子反锁在屋里了，才三岁，家里没大人", ("119", "110", "孩子或老人"), ("打架",)),
        ("老人走丢了，找了一上午", ("110", "衣着"), ("打架", "持械")),
        ("2幢有人触电了", ("120", "拉下电闸", "不要直接用手拉人"), ()),
        ("5幢有人要跳楼", ("110", "120", "陪着"), ("打架", "远离现场")),
        ("孩子被锁在车里了", ("119", "车里"), ("打架",)),
        ("有人往楼下扔酒瓶", ("110", "楼下"), ("打架",)),
        ("阳台上的花盆快掉下来了", ("119", "绕行"), ("撤离到安全地带", "不要乘坐电梯")),
        ("有人在喊救命", ("110", "呼救"), ("打架",)),
        ("楼道里有人打架，拿着刀", ("110", "打架"), ()),  # the fight's own words stay
        ("厨房着火了", ("119", "撤离"), ()),
    ],
)
def test_the_advice_is_worded_for_the_hazard(
    text: str, says: tuple[str, ...], never: tuple[str, ...]
) -> None:
    hazards = nlu.detect_hazards(text)
    assert hazards, text
    advice = advice_text(hazards, "zh")
    assert all(word in advice for word in says), advice
    assert not any(word in advice for word in never), advice
    english = advice_text(hazards, "en")
    assert english.count("\n") == advice.count("\n")  # the same lines, in English
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english), english


def test_a_report_held_as_a_duplicate_joins_the_urgent_one() -> None:
    held = CreateTicket(
        intent="report_elevator",
        category="elevator",
        priority="high",
        description="3幢电梯又坏了",
        building_id=3,
        building_name="3幢",
        photos=(4,),
    )
    state = DialogueState(stage=Stage.DUPLICATE, draft=draft_to_dict(held))
    turn = step(state, inbound(LIFT), danger_parse(LIFT), CTX, CFG)
    ticket = filed(turn)
    assert (ticket.priority, ticket.category, ticket.building_id) == ("urgent", "elevator", 3)
    assert ticket.description == f"3幢电梯又坏了；{LIFT}"
    assert ticket.photos == (4,)
