"""What residents call a building, normalised and matched against the registry."""

from __future__ import annotations

import pytest

from handlers.address import (
    BuildingRef,
    cn_to_int,
    nearest_building,
    normalise_building,
    resolve_building,
)

B = (
    BuildingRef(1, "3幢", ("3号楼", "三幢"), 1, "阳光花园社区", latitude=30.0, longitude=120.0),
    BuildingRef(2, "B区5幢", (), 1, "阳光花园社区", latitude=30.01, longitude=120.0),
    BuildingRef(3, "3幢", (), 2, "翠苑一区", latitude=None, longitude=None),
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3号楼", "3幢"),
        ("三号楼", "3幢"),
        ("3栋", "3幢"),
        ("十二幢", "12幢"),
        ("二十一号楼", "21幢"),
        ("b区5号楼", "B区5幢"),
        ("３幢", "3幢"),
        ("综合楼", "综合楼"),
    ],
)
def test_normalise_building_names_agree(text: str, key: str) -> None:
    assert normalise_building(text) == key


@pytest.mark.parametrize(
    ("text", "value"),
    [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("一百零三", 103), ("三x", None)],
)
def test_small_chinese_numerals(text: str, value: int | None) -> None:
    assert cn_to_int(text) == value


def test_same_name_in_two_communities_prefers_the_residents_own() -> None:
    assert [b.id for b in resolve_building("3号楼", B)] == [1, 3]
    assert [b.id for b in resolve_building("3号楼", B, community_id=2)] == [3]
    assert [b.id for b in resolve_building("翠苑一区3幢", B)] == [3]


def test_nearest_building_within_radius_only() -> None:
    assert nearest_building(30.0001, 120.0001, B) == B[0]
    assert nearest_building(31.0, 121.0, B) is None
