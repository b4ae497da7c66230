"""Is a new report the same problem as an open ticket? (table-driven)"""

from __future__ import annotations

import pytest

from handlers.duplicates import DuplicatePolicy, OpenTicket, Place, find_duplicate, same_problem

POLICY = DuplicatePolicy()
B3 = Place(1, 3, 30.2741, 120.1567)
B4 = Place(1, 4, 30.2741, 120.1575)  # 77 m east of building 3


@pytest.mark.parametrize(
    ("category", "new", "old", "same"),
    [
        ("elevator", B3, B3, True),
        ("elevator", B3, B4, False),  # another building's elevator is another elevator
        ("parking", B3, B4, False),  # 77 m apart: more than the 50 m of parking
        ("parking", Place(1, 3, 30.2741, 120.1567), Place(1, None, 30.2743, 120.1569), True),
        ("sanitation", Place(1, None, 30.2741, 120.1567), Place(1, None, 30.2744, 120.1567), False),
        ("elevator", Place(2, 3, None, None), Place(1, 3, None, None), False),  # other community
        ("noise", Place(1, None, None, None), Place(1, None, None, None), False),
    ],
)
def test_same_problem_by_building_or_radius(
    category: str, new: Place, old: Place, same: bool
) -> None:
    assert same_problem(category, new, old, POLICY) is same


def test_the_oldest_open_ticket_is_offered() -> None:
    tickets = [
        OpenTicket("MH-20261122-0001", "elevator", B4),
        OpenTicket("MH-20261122-0002", "elevator", B3),
        OpenTicket("MH-20261122-0003", "elevator", B3),
    ]
    found = find_duplicate("elevator", B3, tickets, POLICY)
    assert found is not None and found.number == "MH-20261122-0002"


@pytest.mark.parametrize("category", ["dispute", "other"])
def test_personal_and_catch_all_reports_are_never_duplicates(category: str) -> None:
    tickets = [OpenTicket("MH-20261122-0001", category, B3)]
    assert find_duplicate(category, B3, tickets, POLICY) is None


def test_nothing_is_offered_when_the_feature_is_off_or_the_place_unknown() -> None:
    tickets = [OpenTicket("MH-20261122-0001", "elevator", B3)]
    assert find_duplicate("elevator", B3, tickets, DuplicatePolicy(enabled=False)) is None
    assert find_duplicate("elevator", Place(1, None), tickets, POLICY) is None
