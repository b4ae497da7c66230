"""Hotspot grouping (pure): same place, same problem, inside the window, at the threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.hotspots import DEFAULT_RULES, Report, groups_for, recurring, similar

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def report(
    n: int,
    *,
    hours: float = 0,
    building: int | None = 6,
    grid: int | None = 2,
    category: str = "elevator",
    text: str = "电梯坏了",
    lat: float | None = None,
    lon: float | None = None,
) -> Report:
    return Report(
        f"MH-20261122-{n:04d}",
        category,
        text,
        T0 + timedelta(hours=hours),
        1,
        grid,
        building,
        lat,
        lon,
    )


def building_group(new: Report, reports: list[Report]) -> tuple[bool, int]:
    group = next(g for g in groups_for(new, reports, DEFAULT_RULES) if g.rule.place == "building")
    return group.hot, len(group.reports)


def test_three_reports_in_a_building_within_a_day_are_a_hotspot_and_two_are_not() -> None:
    reports = [report(1), report(2, hours=1)]
    assert building_group(reports[-1], reports) == (False, 2)
    reports.append(report(3, hours=2))
    assert building_group(reports[-1], reports) == (True, 3)


def test_older_reports_other_problems_and_other_buildings_do_not_count() -> None:
    reports = [
        report(1, hours=-30),  # outside 24 h
        report(2, category="noise", text="楼上吵"),
        report(3, building=7),
        report(4),
        report(5, hours=1),
    ]
    assert building_group(reports[-1], reports) == (False, 2)


def test_nearby_reports_without_a_building_count_within_the_radius() -> None:
    reports = [
        report(1, building=None, category="parking", lat=30.27410, lon=120.1551),
        report(2, building=None, category="parking", lat=30.27420, lon=120.1551),  # ~11 m
        report(3, building=None, category="parking", lat=30.27430, lon=120.1551),
    ]
    assert building_group(reports[-1], reports) == (True, 3)


def test_five_reports_in_a_grid_within_two_hours_are_a_grid_hotspot() -> None:
    reports = [report(n, building=n, hours=n / 10) for n in range(1, 6)]
    grid = next(g for g in groups_for(reports[-1], reports) if g.rule.place == "grid")
    assert grid.hot and len(grid.numbers) == 5


def test_the_catch_all_category_groups_only_similar_words() -> None:
    assert similar("小区门口的路灯坏了好几天", "小区门口路灯坏了", 0.3)
    assert not similar("小区门口的路灯坏了", "楼下有人养鸽子很臭", 0.3)


def test_recurring_problems_per_building() -> None:
    reports = [report(1), report(2, hours=500), report(3, building=7), report(4, category="noise")]
    assert recurring(reports) == [(6, "elevator", 2)]
