"""Resolving what a resident calls a building to a registered building (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass


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


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS.update({"七": 7, "八": 8, "九": 9})
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+")
_SUFFIX = re.compile(r"(\d+)\s*(?:号楼|号|栋|幢|座|楼|#)")


def cn_to_int(text: str) -> int | None:
    """Convert a small Chinese numeral (一 … 九百九十九) to an int."""
    if not text or any(ch not in _DIGITS and ch not in "十百" for ch in text):
        return None
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + _DIGITS[ch] if current else _DIGITS[ch]
    return total + current


def normalise_building(text: str) -> str:
    """A comparable key: '三号楼' → '3幢', 'B区5栋' → 'B区5幢', full-width and case folded."""
    value = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text)
    value = re.sub(r"\s+", "", value).upper()
    value = _CN_NUMBER.sub(lambda m: str(cn_to_int(m.group()) or m.group()), value)
    value = _SUFFIX.sub(lambda m: f"{int(m.group(1))}幢", value)
    return value


def community_prefixes(community: str) -> set[str]:
    if not community:
        return set()
    name = normalise_building(community)
    short = re.sub(r"(社区|小区|居委会)$", "", name)
    return {p for p in (name, short) if p}


def building_keys(building: BuildingRef) -> set[str]:
    return {normalise_building(name) for name in (building.name, *building.aliases) if name}


def resolve_building(
    value: str,
    buildings: Sequence[BuildingRef],
    *,
    community_id: int | None = None,
) -> list[BuildingRef]:
    """Registered buildings matching a name or alias; several when communities share a name.

    When the resident's community is known, a match there wins over matches elsewhere.
    """
    key = normalise_building(value)
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
