"""Notices (pure): questions vs reports, categories, time windows, scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.grid_notices import (
    Category,
    ScopeRef,
    asks_about_notices,
    category_of,
    parse_window,
    problem_category,
    scope_from_json,
    window_text,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 17:00 in Hangzhou


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("最近小区有没有停水通知？", True),
        ("明天停电吗", True),
        ("什么时候停水", True),
        ("停水通知", True),
        ("通知", True),
        ("家里停水了，一滴水都没有", False),
        ("停电了", False),
        ("3幢电梯坏了", False),
    ],
)
def test_a_question_about_notices_is_told_from_a_report(text: str, question: bool) -> None:
    assert asks_about_notices(text) is question


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("家里停水了", Category.WATER),
        ("水龙头不出水", Category.WATER),
        ("整栋楼没电了", Category.POWER),
        ("燃气打不着", Category.GAS),
        ("电梯又停了", Category.ELEVATOR),
        ("楼上吵死了", None),
    ],
)
def test_a_report_is_matched_to_a_notice_category(text: str, category: Category | None) -> None:
    assert problem_category(text) == category


def test_a_notice_text_names_its_category() -> None:
    assert category_of("明天9:00-17:00停水，请提前储水") == Category.WATER
    assert category_of("周六上午电梯检修") == Category.ELEVATOR
    assert category_of("本周末社区义诊") == Category.OTHER


def test_a_window_in_chat_is_read_in_local_time_and_said_back_relative_to_today() -> None:
    starts, ends = parse_window("明天9:00-17:00停水", NOW)
    assert starts is not None and ends is not None
    assert starts.isoformat() == "2026-11-23T09:00:00+08:00"
    assert ends.isoformat() == "2026-11-23T17:00:00+08:00"
    assert window_text(starts, ends, NOW) == "明天09:00–17:00"
    assert parse_window("请提前储水", NOW) == (None, None)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"building": 5}, ScopeRef("building", 5)),
        ({"grid": 2}, ScopeRef("grid", 2)),
        ({"community": 1}, ScopeRef("community", 1)),
        ({"street": "西溪街道"}, ScopeRef("street", None, "西溪街道")),
    ],
)
def test_a_scope_names_exactly_one_place(scope: dict[str, object], expected: ScopeRef) -> None:
    assert scope_from_json(scope) == expected


@pytest.mark.parametrize(
    "scope",
    [{}, {"building": 1, "grid": 2}, {"planet": 1}, {"building": "5"}, {"building": 0}],
)
def test_a_bad_scope_is_refused(scope: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        scope_from_json(scope)
