"""Danger first: every hazard phrasing of the danger set is urgent with the right advice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import nlu

DANGER = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "danger.yml").read_text("utf-8")
)


def _dangerous() -> list[Any]:
    return [
        pytest.param(text, tuple(group["advice"]), id=f"{group['hazard']}-{i}")
        for group in DANGER["dangerous"]
        for i, text in enumerate(group["texts"])
    ]


@pytest.mark.parametrize(("text", "advice"), _dangerous())
def test_every_dangerous_phrasing_is_urgent_with_its_advice(
    text: str, advice: tuple[str, ...]
) -> None:
    hazards = nlu.detect_hazards(text)
    given = {code for h in hazards for code in h.advice}
    assert hazards, f"missed: {text}"
    assert set(advice) <= given, f"{text}: advice {sorted(given)}, expected {advice}"


@pytest.mark.parametrize("text", DANGER["negated"])
def test_negated_past_and_hypothetical_mentions_are_not_urgent(text: str) -> None:
    assert nlu.detect_hazards(text) == ()


def test_at_most_two_percent_of_ordinary_reports_are_urgent() -> None:
    flagged = [t for t in DANGER["ordinary"] if nlu.detect_hazards(t)]
    assert len(flagged) <= 0.02 * len(DANGER["ordinary"]), flagged


def test_the_danger_set_covers_every_hazard_with_enough_phrasings() -> None:
    kinds = {group["hazard"] for group in DANGER["dangerous"]}
    n = sum(len(group["texts"]) for group in DANGER["dangerous"])
    assert {
        "trapped",
        "electric_shock",
        "fire",
        "gas",
        "violence",
        "injury",
        "flood_electric",
        "falling_object",
        "vulnerable_person",
    } <= kinds
    assert n >= 150


@pytest.mark.parametrize(
    ("text", "kind", "advice"),
    [
        ("电梯卡住了，里面有人", "trapped", ("96333",)),
        ("电梯停在半空，我妈在里面出不来", "trapped", ("96333",)),
        ("3幢电梯困了一个老人", "trapped", ("96333",)),
        ("2幢有人触电了", "electric_shock", ("120",)),
        ("9幢楼下有人打架，流了很多血", "violence", ("120", "110")),
        ("7幢楼道里有人打架，拿着刀", "violence", ("110",)),
        ("8幢配电箱冒火花", "fire", ("119", "power")),
        ("很大的煤气味", "gas", ("gas",)),
        ("阳台被锁上了，我出不去", "trapped", ("119",)),
    ],
)
def test_the_issue_examples_get_their_hazard_and_exactly_their_advice(
    text: str, kind: str, advice: tuple[str, ...]
) -> None:
    hazards = nlu.detect_hazards(text)
    assert kind in {h.kind for h in hazards}
    assert nlu.advice_for(hazards) == advice


def test_a_gas_smell_gets_the_gas_advice_and_not_the_fire_advice() -> None:
    assert nlu.advice_for(nlu.detect_hazards("楼道里好大的煤气味")) == ("gas",)
    assert nlu.advice_for(nlu.detect_hazards("厨房的燃气管道着火了")) == ("119", "gas")


@pytest.mark.parametrize(
    "text",
    [
        "没有人被困",
        "电梯停了，但没有人被困在里面",
        "不是煤气味，是下水道味",
        "上次着火的事还没处理",
        "配电箱要加盖，防止漏电",
        "楼道里堆了杂物，有火灾隐患",
        "万一着火了怎么办",
        "2018年5月3日小区里有人打架，到现在也没个说法",
    ],
)
def test_negation_precaution_and_past_keep_a_message_non_urgent(text: str) -> None:
    assert nlu.detect_hazards(text) == ()


def test_a_danger_told_as_a_story_deep_in_a_letter_is_not_urgent_but_a_present_one_is() -> None:
    opening = (
        "尊敬的领导：您好！我是阳光花园小区5幢的业主，想反映一下我们小区电梯维护的问题。"
        "小区交付已经八年了，六部电梯都是当年的老设备，物业每个月只来保养一次，每次十几分钟就走，"
        "维保记录也不公开，业主们意见很大，找了好几次物业和开发商，都说在走流程，一拖再拖。"
    )
    assert len(opening) > 120
    story = opening + "有一次电梯困人，物业过了一个小时才来。"
    now = opening + "现在电梯里还困着人，请马上派人！"
    assert nlu.detect_hazards(story) == ()
    assert [h.kind for h in nlu.detect_hazards(now)] == ["trapped"]


def test_a_hazard_names_the_cue_with_its_span_in_the_text_as_written() -> None:
    text = "３幢電梯故障，有人被困"
    (hazard,) = nlu.detect_hazards(text)
    assert (hazard.kind, hazard.advice, hazard.cue) == ("trapped", ("96333",), "被困")
    assert text[hazard.start : hazard.end] == "被困"


def test_several_hazards_give_every_advice_most_life_saving_first() -> None:
    hazards = nlu.detect_hazards("楼道里有人拿刀砍人，地上都是血，还有人在放火")
    assert {h.kind for h in hazards} >= {"violence", "injury", "fire"}
    assert nlu.advice_for(hazards) == ("120", "119", "110")


def test_every_parse_carries_the_hazards_and_the_urgency_entities(
    mini_model: nlu.NLUModel,
) -> None:
    parse = mini_model.parse("9幢楼下有人打架，流了很多血")
    assert parse.hazards == nlu.detect_hazards("9幢楼下有人打架，流了很多血")
    assert parse.urgent and parse.advice == ("120", "110")
    assert [e.text for e in parse.entities if e.type == "urgency"] == [h.cue for h in parse.hazards]
    calm = mini_model.parse("楼上装修很吵")
    assert calm.hazards == () and not calm.urgent and calm.advice == ()
    assert calm.first("urgency") is None
