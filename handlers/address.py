"""Resolving what a resident calls a building to a registered building (pure).

Names and aliases are compared by ``nlu.numbers.building_key`` (三号楼 = 3栋 = 3幢).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nlu.numbers import building_key


@dataclass(frozen=True, slots=True)
class BuildingRef:
    """A registered building as the dialogue sees it."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()
    community_id: int | None = None
    community: str = ""
    grid_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None

    def display(self, with_community: bool = True) -> str:
        if with_community and self.community:
            return f"{self.community}{self.name}"
        return self.name


def community_prefixes(community: str) -> set[str]:
    if not community:
        return set()
    name = building_key(community)
    short = re.sub(r"(社区|小区|居委会)$", "", name)
    return {p for p in (name, short) if p}


def building_keys(building: BuildingRef) -> set[str]:
    return {building_key(name) for name in (building.name, *building.aliases) if name}


def resolve_building(
    value: str,
    buildings: Sequence[BuildingRef],
    *,
    community_id: int | None = None,
) -> list[BuildingRef]:
    """Registered buildings matching a name or alias; several when communities share a name.

    When the resident's community is known, a match there wins over matches elsewhere.
    """
    key = building_key(value)
    if not key:
        return []
    matches = [b for b in buildings if key in building_keys(b)]
    if not matches:
        # "阳光花园3幢": a community name (with or without 社区/小区) before a building name
        matches = [
            b
            for b in buildings
            if any(
                key.startswith(prefix) and key[len(prefix) :] in building_keys(b)
                for prefix in community_prefixes(b.community)
            )
        ]
    if community_id is not None and len(matches) > 1:
        local = [b for b in matches if b.community_id == community_id]
        if local:
            return local
    return matches


def nearest_building(
    latitude: float,
    longitude: float,
    buildings: Sequence[BuildingRef],
    *,
    max_metres: float = 300.0,
) -> BuildingRef | None:
    """The registered building closest to a point, if one lies within ``max_metres``."""
    best: tuple[float, BuildingRef] | None = None
    for building in buildings:
        if building.latitude is None or building.longitude is None:
            continue
        distance = haversine_m(latitude, longitude, building.latitude, building.longitude)
        if distance <= max_metres and (best is None or distance < best[0]):
            best = (distance, building)
    return best[1] if best else None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
