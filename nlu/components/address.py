"""Building / unit / room extraction: 3幢2单元501, 3-2-501, 三号楼, B区5号楼, 7栋三单元 ...

Finds the forms of ``nlu/numbers.py`` in running text (which also gives the canonical values:
building ``<area><n>幢``, unit ``2``, room ``501``) and keeps the spans from overlapping.
Runs on normalised text (lower-case ASCII, half-width digits).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nlu.numbers import (
    BUILDING_SUFFIX,
    DASHED,
    FULL,
    ROOM_ONLY,
    UNIT_ROOM,
    building_value,
    ordinal,
    room_number,
)
from nlu.types import Entity

EXTRACTOR = "regex_address"

_Adder = Callable[[str, str | None, int, int], None]


def extract_address(text: str, original: str) -> list[Entity]:
    """Find building, unit and room mentions.

    Args:
        text: normalised text (same length as ``original``).
        original: the text as sent, for the entities' surface text.

    Returns:
        Entities with spans in the original text, in text order.
    """
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, value: str | None, start: int, end: int) -> None:
        if value:
            found.append(Entity(kind, value, start, end, original[start:end], EXTRACTOR))

    for match in DASHED.finditer(text):
        building, unit = ordinal(match.group("b")), ordinal(match.group("u"))
        if building is None or unit is None:
            continue
        taken.append(match.span())
        add("building", f"{building}幢", *match.span("b"))
        add("unit", unit, *match.span("u"))
        add("room", match.group("r"), match.start("r"), match.end())

    for match in FULL.finditer(text):
        if not free(*match.span()):
            continue
        building = building_value(
            match.group("bnum"), match.group("area"), match.group("area_kind")
        )
        if building is None:
            continue
        taken.append(match.span())
        building_end = match.end("bnum")
        suffix = BUILDING_SUFFIX.match(text, building_end)
        if suffix:
            building_end = suffix.end()
        add("building", building, match.start(), building_end)
        _add_unit_room(match, add)

    for match in UNIT_ROOM.finditer(text):
        if free(*match.span()):
            taken.append(match.span())
            _add_unit_room(match, add)

    for match in ROOM_ONLY.finditer(text):
        if free(*match.span()):
            taken.append(match.span())
            add("room", match.group("room"), *match.span())

    found.sort(key=lambda e: (e.start, e.end))
    return found


def _add_unit_room(match: re.Match[str], add: _Adder) -> None:
    groups = match.groupdict()
    if groups.get("unit"):
        add("unit", ordinal(groups["unit"]), match.start("unit"), _unit_end(match))
    elif groups.get("unit_dash"):
        add("unit", ordinal(groups["unit_dash"]), *match.span("unit_dash"))
    if groups.get("room"):
        add("room", room_number(groups["room"]), match.start("room"), match.end())


def _unit_end(match: re.Match[str]) -> int:
    end = match.end("unit")
    rest = match.string[end : end + 3]
    return end + (rest.index("单元") + 2 if "单元" in rest else 0)
