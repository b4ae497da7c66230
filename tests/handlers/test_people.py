"""The people around a building, pure rules: which messages ask for them, what a resident
may see of them, link codes, the helper CSV."""

from __future__ import annotations

import pytest

from handlers.people import (
    HelperRole,
    Person,
    asks_for_people,
    building_mention,
    link_code_in,
    mobile,
    parse_helpers_csv,
    person_line,
    phone_link_in,
    role_of,
)


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("我的网格员", True),
        ("网格员", True),
        ("我们楼栋长是谁", True),
        ("6幢的楼栋长是谁？", True),
        ("网格员电话", True),
        ("网格员电话多少", True),
        ("怎么联系网格员", True),
        ("单元长叫什么名字", True),
        ("网格员电话打不通", False),
        ("网格员一直不来修，太慢了", False),
        ("我要投诉网格员", False),
        ("电梯坏了", False),
        ("我的电话是13800001234", False),
        ("", False),
    ],
)
def test_questions_about_the_grid_worker_are_told_from_reports(text: str, asks: bool) -> None:
    assert asks_for_people(text) is asks


def test_a_building_is_found_inside_the_question() -> None:
    assert building_mention("6幢的楼栋长是谁？") == "6幢"
    assert building_mention("三号楼网格员电话") == "三号楼"
    assert building_mention("我的网格员") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("绑定 4829 1375", "48291375"),
        ("绑定48291375", "48291375"),
        ("绑定：4829-1375", "48291375"),
        ("bind 4829 1375", "48291375"),
        ("绑定 4829", None),
        ("我要绑定手机", None),
    ],
)
def test_link_codes_are_read_with_or_without_spaces(text: str, code: str | None) -> None:
    assert link_code_in(text) == code


def test_a_phone_to_link_is_read_from_the_message() -> None:
    assert phone_link_in("绑定手机 139 1234 5678") == "13912345678"
    assert phone_link_in("绑定电话：13912345678") == "13912345678"
    assert phone_link_in("绑定手机 0571-88881234") is None
    assert phone_link_in("我的手机13912345678") is None


def test_residents_see_staff_phones_in_full_and_neighbours_phones_masked() -> None:
    assert person_line(Person("grid_worker", "李娜", "13800000002"), "zh") == (
        "· 网格员：李娜，电话 13800000002"
    )
    assert person_line(Person("building_head", "张桂兰", "13900000016"), "zh") == (
        "· 楼栋长：张桂兰，电话 139****0016"
    )
    assert person_line(Person("unit_head", "孙丽", "", "1单元"), "zh") == "· 1单元单元长：孙丽"


def test_only_mobile_numbers_get_text_messages() -> None:
    assert mobile("+86 139-1234-5678") == "13912345678"
    assert mobile("0571-88881234") is None


def test_roles_are_read_in_chinese_or_as_codes() -> None:
    assert role_of("楼长") == HelperRole.BUILDING_HEAD
    assert role_of("party_volunteer") == HelperRole.PARTY_VOLUNTEER
    with pytest.raises(ValueError, match="未知的角色"):
        role_of("保安")


def test_the_helper_csv_reports_every_bad_line_and_reads_the_good_ones() -> None:
    parsed = parse_helpers_csv(
        "\ufeffname,role,community,buildings,unit,phone\n"
        "张桂兰,楼栋长,阳光花园社区,6幢,,139 0000 0016\n"
        ",单元长,阳光花园社区,,,abc\n"
        "钱伟,志愿者,阳光花园社区,9幢；10幢,,\n"
    )
    assert [(r.line, r.name, r.role, r.buildings, r.phone) for r in parsed.rows] == [
        (2, "张桂兰", HelperRole.BUILDING_HEAD, ("6幢",), "13900000016"),
        (4, "钱伟", HelperRole.PARTY_VOLUNTEER, ("9幢", "10幢"), ""),
    ]
    assert parsed.errors == [
        "第3行：姓名为空或过长；楼栋为空；电话“abc”格式不对；单元长需要填写单元"
    ]
    assert parse_helpers_csv("姓名,电话\n").errors == [
        "第1行：缺少列 角色、社区、楼栋（需要：姓名,角色,社区,楼栋,单元,电话）"
    ]
