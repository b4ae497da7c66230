"""Departments: naming them, and what their contacts type."""

from __future__ import annotations

import pytest

from handlers.departments import (
    DepartmentInput,
    DepartmentRef,
    DeptCommand,
    parse_department_button,
    parse_department_text,
    resolve_department,
    suggested,
)

N = "MH-20261122-0007"
DEPARTMENTS = [
    DepartmentRef(1, "城管中队", "city_management", ("城管",), None),
    DepartmentRef(2, "交警中队", "traffic", ("交管",), None),
    DepartmentRef(3, "物业服务中心", "property", ("物业",), 1),
    DepartmentRef(4, "物业服务中心", "property", (), 2),
    DepartmentRef(5, "施工方", "contractor", (), 1),
]


@pytest.mark.parametrize(
    ("text", "community", "expected"),
    [
        ("城管", 1, 1),
        ("城管中队", 1, 1),
        ("综合执法", 1, 1),  # what people call the kind, not the registry name
        ("交警", 1, 2),
        ("物业", 1, 3),
        ("物业公司", 2, 4),  # the ticket's own community first
        ("施工单位", 1, 5),
        ("请城管来看看", 1, 1),
        ("消防队", 1, None),
        ("", 1, None),
    ],
)
def test_departments_are_found_by_name_alias_or_kind(
    text: str, community: int, expected: int | None
) -> None:
    found = resolve_department(text, DEPARTMENTS, community_id=community)
    assert (found.id if found else None) == expected


def test_the_categorys_usual_parties_are_offered_first() -> None:
    ordered = suggested(DEPARTMENTS, ("交管", "物业"), community_id=1)
    assert [d.id for d in ordered[:2]] == [2, 3]
    assert len(ordered) == len(DEPARTMENTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"回复 {N} 已派执法队员到场", DepartmentInput(DeptCommand.REPLY, N, "已派执法队员到场")),
        (f"完成 {N} 车辆已拖离", DepartmentInput(DeptCommand.DONE, N, "车辆已拖离")),
        ("完成：已清运", DepartmentInput(DeptCommand.DONE, None, "已清运")),
        ("已派人到场", DepartmentInput(DeptCommand.REPLY, None, "已派人到场")),
        ("进展顺利，明天收尾", DepartmentInput(DeptCommand.REPLY, None, "进展顺利，明天收尾")),
        (f"{N} 明早处理", DepartmentInput(DeptCommand.REPLY, N, "明早处理")),
        ("任务", DepartmentInput(DeptCommand.TASKS)),
        ("帮助", DepartmentInput(DeptCommand.HELP)),
    ],
)
def test_contact_messages_are_replies_unless_they_are_commands(
    text: str, expected: DepartmentInput
) -> None:
    assert parse_department_text(text) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (f"dept_reply:{N}", DepartmentInput(DeptCommand.REPLY, N)),
        (f"dept_done:{N}", DepartmentInput(DeptCommand.DONE, N)),
        ("dept_done:DROP TABLE", None),
        ("accept:MH-20261122-0007", None),
    ],
)
def test_card_buttons_parse_and_forged_ones_are_refused(
    payload: str, expected: DepartmentInput | None
) -> None:
    assert parse_department_button(payload) == expected
