"""Hotspots (pure): reports about the same problem in one place, grouped as they arrive; a
group that crosses a threshold is a hotspot the grid leader and community staff hear about.

A *report* is a filed ticket or a resident who reported the same problem again and now
follows the open ticket (both are residents speaking up). Two reports are about the same
problem when they share the category — or, for the catch-all ``other``, when their words
overlap (character-bigram Jaccard ≥ ``similarity``). They are in the same place when they
name the same building or lie within ``radius_m`` of each other (rule ``building``), or are
in the same grid (rule ``grid``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.address import haversine_m


@dataclass(frozen=True, slots=True)
class Report:
    number: str  # the ticket it is (or follows)
    category: str
    text: str
    at: datetime
    community_id: int | None
    grid_id: int | None
    building_id: int | None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """``count`` reports within ``window`` in one ``place`` (building | grid) make a hotspot."""

    place: str
    count: int
    window: timedelta


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("building", 3, timedelta(hours=24)),
    Rule("grid", 5, timedelta(hours=2)),
)


@dataclass(frozen=True, slots=True)
class Group:
    """Reports of one problem in one place within a rule's window."""

    key: str
    rule: Rule
    category: str
    community_id: int | None
    grid_id: int | None
    building_id: int | None
    reports: tuple[Report, ...]

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.number for r in self.reports))

    @property
    def hot(self) -> bool:
        return len(self.reports) >= self.rule.count


def bigrams(text: str) -> frozenset[str]:
    chars = [c for c in text if not c.isspace() and c not in "，。,.!！?？、"]
    return frozenset(a + b for a, b in itertools.pairwise(chars))


def similar(a: str, b: str, threshold: float) -> bool:
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return False
    return len(x & y) / len(x | y) >= threshold


def metres(a: Report, b: Report) -> float | None:
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    return haversine_m(a.latitude, a.longitude, b.latitude, b.longitude)


def groups_for(
    new: Report,
    reports: Iterable[Report],
    rules: Sequence[Rule] = DEFAULT_RULES,
    *,
    radius_m: float = 50.0,
    similarity: float = 0.3,
) -> list[Group]:
    """The group of the newest report under each rule (hot or not), over ``reports``."""
    found: list[Group] = []
    pool = list(reports)
    for rule in rules:
        since = new.at - rule.window
        members = [
            r
            for r in pool
            if since <= r.at <= new.at
            and r.community_id == new.community_id
            and _same_problem(new, r, similarity)
            and _same_place(rule, new, r, radius_m)
        ]
        if rule.place == "building":
            place_key = f"b{new.building_id}" if new.building_id else f"n{new.number}"
        else:
            place_key = f"g{new.grid_id}"
        if rule.place == "grid" and new.grid_id is None:
            continue
        found.append(
            Group(
                key=f"{rule.place}:{new.community_id}:{place_key}:{new.category}",
                rule=rule,
                category=new.category,
                community_id=new.community_id,
                grid_id=new.grid_id,
                building_id=new.building_id if rule.place == "building" else None,
                reports=tuple(sorted(members, key=lambda r: r.at)),
            )
        )
    return found


def _same_problem(a: Report, b: Report, threshold: float) -> bool:
    if a.category != b.category:
        return False
    return a.category != "other" or similar(a.text, b.text, threshold)


def _same_place(rule: Rule, a: Report, b: Report, radius_m: float) -> bool:
    if rule.place == "grid":
        return a.grid_id is not None and a.grid_id == b.grid_id
    if a.building_id is not None and a.building_id == b.building_id:
        return True
    distance = metres(a, b)
    return distance is not None and distance <= radius_m


def recurring(reports: Iterable[Report], *, minimum: int = 2) -> list[tuple[int | None, str, int]]:
    """(building, category, count) seen at least ``minimum`` times, most first."""
    counts: dict[tuple[int | None, str], int] = {}
    for r in reports:
        if r.building_id is not None:
            counts[(r.building_id, r.category)] = counts.get((r.building_id, r.category), 0) + 1
    rows = [(b, c, n) for (b, c), n in counts.items() if n >= minimum]
    return sorted(rows, key=lambda row: (-row[2], row[0] or 0, row[1]))


@dataclass(frozen=True, slots=True)
class HotspotPolicy:
    """The configured thresholds (``MINHU_HOTSPOTS__…``)."""

    enabled: bool = True
    rules: tuple[Rule, ...] = DEFAULT_RULES
    radius_m: float = 50.0
    similarity: float = 0.3

    @property
    def longest(self) -> timedelta:
        return max((r.window for r in self.rules), default=timedelta(0))
