"""What residents call a building, normalised and matched against the registry."""

from __future__ import annotations

import pytest

from handlers.address import BuildingRef, nearest_building, resolve_building

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
