"""Resolving what a resident calls a building to a registered building (pure).

Names and aliases are compared by ``nlu.numbers.building_key`` (三号楼 = 3栋 = 3幢).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

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
    street: str = ""  # 街道 of the community

    def display(self, with_community: bool = True) -> str:
        if with_community and self.community:
            return f"{self.community}{self.name}"
        return self.name


# a city repeats a few hundred names ("3幢", "3号楼") across its buildings: key each name once
_key = lru_cache(maxsize=65536)(building_key)


@lru_cache(maxsize=8192)
def _prefixes(community: str) -> frozenset[str]:
    name = building_key(community)
    short = re.sub(r"(社区|小区|居委会)$", "", name)
    return frozenset(p for p in (name, short) if p)


def community_prefixes(community: str) -> set[str]:
    if not community:
        return set()
    return set(_prefixes(community))


def building_keys(building: BuildingRef) -> set[str]:
    return {_key(name) for name in (building.name, *building.aliases) if name}


def _street_names(street: str) -> tuple[str, ...]:
    short = re.sub(r"(街道|街道办|街|镇|乡)$", "", street)
    return tuple(n for n in (street, short) if len(n) >= 2)


def narrow_by_place(candidates: Sequence[BuildingRef], text: str) -> list[BuildingRef]:
    """The candidates in the community named in ``text``, else in the street named there
    ("阳光花园", "东湖街道"); an empty list when it names neither."""
    folded = building_key(text) if text else ""
    if not folded:
        return []
    chosen: list[BuildingRef]
    best, chosen = 0, []
    for b in candidates:
        longest = max((len(p) for p in community_prefixes(b.community) if p in folded), default=0)
        if longest > best:
            best, chosen = longest, [b]
        elif longest and longest == best:
            chosen.append(b)
    if chosen:
        return chosen
    return [b for b in candidates if any(n in folded for n in _street_names(b.street))]


class BuildingIndex(Sequence[BuildingRef]):
    """The registered buildings in registry order, indexed by name key, id and community.

    Built once per registry load, so matching "3幢" is a few dictionary look-ups however many
    buildings the city has (a linear scan of 40,000 buildings took ~100 ms per message).
    """

    def __init__(self, buildings: Sequence[BuildingRef] = ()) -> None:
        self._items = tuple(buildings)
        self._position = {b.id: i for i, b in enumerate(self._items)}
        self._by_key: dict[str, list[BuildingRef]] = {}
        self._by_community: dict[int | None, list[BuildingRef]] = {}
        self._prefixes: dict[str, set[int | None]] = {}  # 阳光花园 → its community ids
        for b in self._items:
            for key in building_keys(b):
                self._by_key.setdefault(key, []).append(b)
            self._by_community.setdefault(b.community_id, []).append(b)
            for prefix in community_prefixes(b.community):
                self._prefixes.setdefault(prefix, set()).add(b.community_id)
        self._longest_prefix = max((len(p) for p in self._prefixes), default=0)

    @overload
    def __getitem__(self, index: int) -> BuildingRef: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[BuildingRef]: ...
    def __getitem__(self, index: int | slice) -> BuildingRef | Sequence[BuildingRef]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BuildingRef]:
        return iter(self._items)

    def by_id(self, building_id: int) -> BuildingRef | None:
        """The building with that id, if registered."""
        i = self._position.get(building_id)
        return None if i is None else self._items[i]

    def position(self, building_id: int) -> int:
        """Where a building stands in registry order (after every other for an unknown id)."""
        return self._position.get(building_id, len(self._items))

    def in_community(self, community_id: int | None) -> Sequence[BuildingRef]:
        """A community's buildings in registry order (every building for None)."""
        if community_id is None:
            return self._items
        return self._by_community.get(community_id, ())

    def for_key(self, key: str) -> list[BuildingRef]:
        """Buildings whose name or an alias has this key, in registry order."""
        return list(self._by_key.get(key, ()))

    def with_prefix(self, key: str) -> list[BuildingRef]:
        """Buildings named by a community name before a building name ("阳光花园3幢")."""
        found: dict[int, BuildingRef] = {}
        for cut in range(1, min(len(key), self._longest_prefix + 1)):
            communities = self._prefixes.get(key[:cut])
            if not communities:
                continue
            for b in self._by_key.get(key[cut:], ()):
                if b.community_id in communities:
                    found[b.id] = b
        return sorted(found.values(), key=lambda b: self._position[b.id])


def building_index(buildings: Sequence[BuildingRef]) -> BuildingIndex:
    """``buildings`` as an index (the same object when it already is one)."""
    return buildings if isinstance(buildings, BuildingIndex) else BuildingIndex(buildings)


def resolve_building(
    value: str,
    buildings: Sequence[BuildingRef],
    *,
    community_id: int | None = None,
) -> list[BuildingRef]:
    """Registered buildings matching a name or alias; several when communities share a name.

    When the resident's community is known, a match there wins over matches elsewhere.
    Pass a :class:`BuildingIndex` (the registry cache holds one): a plain sequence is indexed
    on every call.
    """
    key = building_key(value)
    if not key:
        return []
    index = building_index(buildings)
    # "阳光花园3幢": a community name (with or without 社区/小区) before a building name
    matches = index.for_key(key) or index.with_prefix(key)
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
    # a cheap box first: a degree of latitude is ~111 km, of longitude less (never more)
    box = max_metres / 111_000.0
    wide = box / max(math.cos(math.radians(min(abs(latitude), 89.0))), 0.01)
    for building in buildings:
        if building.latitude is None or building.longitude is None:
            continue
        if abs(building.latitude - latitude) > box or abs(building.longitude - longitude) > wide:
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
