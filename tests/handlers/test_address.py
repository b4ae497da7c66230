"""What residents call a building, normalised and matched against the registry."""

from __future__ import annotations

import pytest

from handlers.address import (
    BuildingIndex,
    BuildingRef,
    narrow_by_place,
    nearest_building,
    resolve_building,
)

B = (
    BuildingRef(1, "3幢", ("3号楼", "三幢"), 1, "阳光花园社区", latitude=30.0, longitude=120.0),
    BuildingRef(2, "B区5幢", (), 1, "阳光花园社区", latitude=30.01, longitude=120.0),
    BuildingRef(3, "3幢", (), 2, "翠苑一区", latitude=None, longitude=None),
)


@pytest.mark.parametrize(
    ("said", "building_id"),
    [
        ("3号楼", 1),
        ("三幢", 1),
        ("３栋", 1),
        ("3-2-501", 1),
        ("b区5号楼", 2),
        ("B区五栋", 2),
        ("一千零一号楼", 4),
        ("1001栋", 4),
        ("二期三幢", 5),
        ("2期3号楼", 5),
    ],
)
def test_every_way_of_saying_a_building_finds_it(said: str, building_id: int) -> None:
    buildings = (
        *B[:2],
        BuildingRef(4, "1001幢", (), 1, "阳光花园社区"),
        BuildingRef(5, "二期3幢", (), 1, "阳光花园社区"),
    )
    assert [b.id for b in resolve_building(said, buildings, community_id=1)] == [building_id]


def test_same_name_in_two_communities_prefers_the_residents_own() -> None:
    assert [b.id for b in resolve_building("3号楼", B)] == [1, 3]
    assert [b.id for b in resolve_building("3号楼", B, community_id=2)] == [3]
    assert [b.id for b in resolve_building("翠苑一区3幢", B)] == [3]


def test_nearest_building_within_radius_only() -> None:
    assert nearest_building(30.0001, 120.0001, B) == B[0]
    assert nearest_building(31.0, 121.0, B) is None


CITY = tuple(
    BuildingRef(
        100 * c + n,
        f"{n}幢",
        (f"{n}号楼",),
        c,
        f"{name}{'社区' if c % 2 else '小区'}",
        latitude=30.0 + c * 0.01 + n * 0.0005,
        longitude=120.0,
        street="东湖街道" if c < 3 else "西溪街道",
    )
    for c, name in enumerate(["阳光花园", "东湖阳光花园", "翠苑", "金桂"], start=1)
    for n in range(1, 4)
)


@pytest.mark.parametrize(
    ("said", "community_id"),
    [
        ("3幢", None),
        ("3幢", 3),
        ("三号楼", 2),
        ("阳光花园3幢", None),
        ("东湖阳光花园社区2号楼", None),
        ("翠苑小区1幢", None),
        ("4幢", None),
        ("", None),
    ],
)
def test_the_index_matches_exactly_what_a_scan_of_the_registry_matches(
    said: str, community_id: int | None
) -> None:
    index = BuildingIndex(CITY)
    scanned = [b.id for b in resolve_building(said, list(CITY), community_id=community_id)]
    assert [b.id for b in resolve_building(said, index, community_id=community_id)] == scanned
    assert index.by_id(203) == CITY[5] and index.by_id(999) is None
    assert [b.id for b in index.in_community(4)] == [401, 402, 403]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("阳光花园", [103]),  # the shorter name, not 东湖阳光花园: the longest name found wins
        ("东湖阳光花园", [203]),
        ("西溪街道", [303, 403]),
        ("东湖街道的", [103, 203]),
        ("不知道", []),
    ],
)
def test_a_community_or_street_in_words_narrows_the_candidates(text: str, ids: list[int]) -> None:
    threes = [b for b in CITY if b.name == "3幢"]
    assert [b.id for b in narrow_by_place(threes, text)] == ids


def test_the_nearest_building_is_the_same_with_the_cheap_box_first() -> None:
    point = (30.0205, 120.0003)
    near = nearest_building(*point, CITY, max_metres=300)
    assert near is not None and near.id == 201  # 29 m east of it
    assert nearest_building(*point, CITY, max_metres=10) is None
