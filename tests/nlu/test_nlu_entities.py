"""Entity extraction as a resident's message would exercise it (spans in the original text)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import nlu

NOW = datetime(2024, 5, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def _entities(model: nlu.NLUModel, text: str, **kwargs: object) -> list[tuple[str, str, str]]:
    parse = model.parse(text, **kwargs)  # type: ignore[arg-type]
    for e in parse.entities:
        assert text[e.start : e.end] == e.text, "span must point into the original text"
    return [(e.type, e.value, e.text) for e in parse.entities]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "3幢2单元501",
            [("building", "3幢", "3幢"), ("unit", "2", "2单元"), ("room", "501", "501")],
        ),
        ("3-2-501漏水", [("building", "3幢", "3"), ("unit", "2", "2"), ("room", "501", "501")]),
        ("三号楼电梯", [("building", "3幢", "三号楼")]),
        ("7栋三单元门口", [("building", "7幢", "7栋"), ("unit", "3", "三单元")]),
        ("B区5号楼", [("building", "B区5幢", "B区5号楼")]),
        (
            "3号楼2单元501室",
            [("building", "3幢", "3号楼"), ("unit", "2", "2单元"), ("room", "501", "501室")],
        ),
        ("5幢门口", [("building", "5幢", "5幢")]),
        ("十二栋", [("building", "12幢", "十二栋")]),
        (
            "东区3栋1单元1102",
            [("building", "东区3幢", "东区3栋"), ("unit", "1", "1单元"), ("room", "1102", "1102")],
        ),
        ("3栋2-501", [("building", "3幢", "3栋"), ("unit", "2", "2"), ("room", "501", "501")]),
        ("2单元302", [("unit", "2", "2单元"), ("room", "302", "302")]),
        ("住501室", [("room", "501", "501室")]),
        ("一千零一号楼门口", [("building", "1001幢", "一千零一号楼")]),
        ("二期三幢电梯", [("building", "2期3幢", "二期三幢")]),
        ("３号楼５０１室", [("building", "3幢", "３号楼"), ("room", "501", "５０１室")]),
    ],
)
def test_address_is_normalised_when_written_in_common_forms(
    mini_model: nlu.NLUModel, text: str, expected: list[tuple[str, str, str]]
) -> None:
    got = [e for e in _entities(mini_model, text) if e[0] in ("building", "unit", "room")]
    assert got == expected


@pytest.mark.parametrize(
    "text",
    ["3楼漏水", "两栋楼之间有车", "一栋楼都停电", "2019-03-15那天", "面积120平米", "3点半"],
)
def test_no_building_is_found_when_numbers_mean_something_else(
    mini_model: nlu.NLUModel, text: str
) -> None:
    assert mini_model.parse(text).first("building") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("电话13812345678", "13812345678"),
        ("打138-1234-5678找我", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("座机0571-88888888", "057188888888"),
        ("(0571)88888888", "057188888888"),
        ("客服400-123-4567", "4001234567"),
    ],
)
def test_phone_value_is_digits_only_when_written_with_separators(
    mini_model: nlu.NLUModel, text: str, value: str
) -> None:
    assert mini_model.parse(text).values("phone") == [value]


@pytest.mark.parametrize("text", ["订单号12345678901234", "3幢2单元501", "2024-05-01"])
def test_no_phone_is_found_when_digits_are_not_a_phone(mini_model: nlu.NLUModel, text: str) -> None:
    assert mini_model.parse(text).values("phone") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("浙A12345乱停", "浙A12345"),
        ("浙a·12345", "浙A12345"),
        ("新能源车浙AD12345", "浙AD12345"),
        ("大车浙A12345D", "浙A12345D"),
        ("粤B1234学", "粤B1234学"),
    ],
)
def test_plate_value_is_upper_case_when_written_in_any_case(
    mini_model: nlu.NLUModel, text: str, value: str
) -> None:
    assert mini_model.parse(text).values("plate") == [value]


@pytest.mark.parametrize("text", ["浙ABCDEF", "京AHELLO1"])
def test_no_plate_is_found_when_letters_follow_a_province(
    mini_model: nlu.NLUModel, text: str
) -> None:
    assert mini_model.parse(text).values("plate") == []


@pytest.mark.parametrize(
    ("text", "resolved", "relative"),
    [
        ("昨晚十点楼上很吵", "2024-05-01T22:00+08:00", "rel:day-1T22:00"),
        ("今天早上电梯坏了", "2024-05-02T08:00+08:00", "rel:day+0T08:00"),
        ("每天凌晨两点施工", "daily@02:00", "daily@02:00"),
        ("上周三下午3点", "2024-04-24T15:00+08:00", "rel:week-1:WET15:00"),
        ("5月3日", "2024-05-03", "--05-03"),
        ("2023年5月3日晚上8点", "2023-05-03T20:00+08:00", "2023-05-03T20:00"),
        ("半夜两点还在装修", "2024-05-03T02:00+08:00", "rel:day+1T02:00"),
        ("每周五晚上跳广场舞", "weekly@FR@21:00", "weekly@FR@21:00"),
        ("明天下午来修", "2024-05-03T15:00+08:00", "rel:day+1T15:00"),
    ],
)
def test_time_is_resolved_when_now_is_given_and_relative_otherwise(
    mini_model: nlu.NLUModel, text: str, resolved: str, relative: str
) -> None:
    assert mini_model.parse(text, now=NOW).values("time") == [resolved]
    assert mini_model.parse(text).values("time") == [relative]


def test_bare_clock_time_is_the_latest_past_moment_when_now_is_given(
    mini_model: nlu.NLUModel,
) -> None:
    afternoon = NOW.replace(hour=16)
    assert mini_model.parse("3点半电梯停了", now=afternoon).values("time") == [
        "2024-05-02T15:30+08:00"
    ]
    assert mini_model.parse("3点半电梯停了", now=NOW).values("time") == ["2024-05-02T03:30+08:00"]


@pytest.mark.parametrize("text", ["好一点了", "有三点意见", "持续3小时", "晚上很吵"])
def test_no_time_is_found_when_words_only_look_like_times(
    mini_model: nlu.NLUModel, text: str
) -> None:
    assert mini_model.parse(text).values("time") == []


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("3幢电梯坏了，有人被困在里面", True),
        ("电梯里困人了", True),
        ("楼道冒烟了", True),
        ("闻到很重的煤气味", True),
        ("有人受伤流血", True),
        ("着火了！", True),
        ("电梯停了，没有人被困", False),
        ("无人受伤", False),
        ("防止漏电", False),
        ("电梯停了，没人被困，但是冒烟", True),
        ("楼上装修很吵", False),
    ],
)
def test_urgency_fires_only_when_a_danger_cue_is_not_negated(
    mini_model: nlu.NLUModel, text: str, urgent: bool
) -> None:
    assert (mini_model.parse(text).first("urgency") is not None) is urgent


def test_elevator_report_with_trapped_person_gives_intent_building_and_urgency(
    mini_model: nlu.NLUModel,
) -> None:
    parse = mini_model.parse("3幢电梯坏了，有人被困在里面")
    assert parse.intent.name == "report_elevator"
    assert parse.values("building") == ["3幢"]
    assert parse.values("urgency") == ["urgent"]


@pytest.mark.parametrize(
    ("text", "kind", "value", "extractor"),
    [
        ("三幢电梯坏了", "building", "3幢", "registry"),
        ("3号楼电梯坏了", "building", "3幢", "registry"),
        ("b区5号楼", "building", "B区5幢", "registry"),
        ("综合楼门口乱停车", "building", "综合楼", "registry"),
        ("老干部活动中心漏水", "building", "综合楼", "registry"),
        ("幸福小区有人乱停车", "community", "幸福小区", "registry"),
        ("幸福晓区有人乱停车", "community", "幸福小区", "registry_fuzzy"),
        ("阳光花圆噪音", "community", "阳光花园", "registry_fuzzy"),
    ],
)
def test_registry_name_is_returned_when_hints_match_exactly_or_with_a_typo(
    mini_model: nlu.NLUModel, hints: nlu.Hints, text: str, kind: str, value: str, extractor: str
) -> None:
    entity = mini_model.parse(text, hints).first(kind)
    assert entity is not None
    assert (entity.value, entity.extractor) == (value, extractor)
    assert text[entity.start : entity.end] == entity.text


def test_fuzzy_match_has_lower_confidence_than_exact(
    mini_model: nlu.NLUModel, hints: nlu.Hints
) -> None:
    exact = mini_model.parse("幸福小区", hints).first("community")
    fuzzy = mini_model.parse("幸福晓区", hints).first("community")
    assert exact is not None and fuzzy is not None
    assert fuzzy.confidence < exact.confidence == 1.0


@pytest.mark.parametrize("text", ["13号楼", "5号楼电梯", "综合体"])
def test_registry_does_not_match_when_numbers_or_short_names_differ(
    mini_model: nlu.NLUModel, hints: nlu.Hints, text: str
) -> None:
    values = mini_model.parse(text, hints).values("building")
    assert "3幢" not in values and "综合楼" not in values


def test_lookup_and_synonym_entities_come_from_training_data(mini_model: nlu.NLUModel) -> None:
    parse = mini_model.parse("五号楼旁边消防通道被堵")
    assert ("place", "消防通道") in [(e.type, e.value) for e in parse.entities]
    regex = mini_model.parse("我的账号ACC123456").first("account_number")
    assert regex is not None and regex.extractor == "regex"


def test_spans_point_into_the_original_text_when_input_is_traditional_and_full_width(
    mini_model: nlu.NLUModel,
) -> None:
    text = "<p>３號樓２單元５０１室</p>"
    parse = mini_model.parse(text)
    assert [(e.type, e.value) for e in parse.entities] == [
        ("building", "3幢"),
        ("unit", "2"),
        ("room", "501"),
    ]
    assert [e.text for e in parse.entities] == ["３號樓", "２單元", "５０１室"]
