"""Building / unit / room extraction: 3幢2单元501, 3-2-501, 三号楼, B区5号楼, 7栋三单元 ...

Canonical values: building ``<area><n>幢`` (``3幢``, ``B区5幢``, ``2期3幢``), unit ``2``,
room ``501``. Runs on normalised text (lower-case ASCII, half-width digits), so letters are
upper-cased again when they go into a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nlu.text import cn_to_int
from nlu.types import Entity

EXTRACTOR = "regex_address"

_CN = "零〇一二两三四五六七八九十百"
_NUM = rf"(?:\d{{1,4}}|[{_CN}]{{1,5}})"
_AREA = rf"(?P<area>[a-z]|\d{{1,2}}|[{_CN}]{{1,3}}|[东南西北中])(?P<area_kind>区|期)"
# "3楼" alone is a floor, so bare 楼 only counts as a building when a unit follows.
_BUILDING = (
    # "两栋楼" means two buildings and "一栋楼" a building, so those are not building numbers.
    rf"(?P<bnum>(?!两[栋幢座号楼]|一[栋幢]楼){_NUM}|[a-z])\s?"
    rf"(?:号楼|号栋|号幢|栋楼|幢楼|幢|栋|座|(?:号|楼)(?=\s?[-,，]?\s?{_NUM}\s?单元))"
)
_SEP = r"\s?[-,，、]?\s?"
_UNIT = rf"(?:(?P<unit>{_NUM})\s?单元|(?P<unit_dash>\d{{1,2}})-(?=\d{{3,4}}))"
_ROOM_DIGITS = r"\d{3,4}|[零〇一二三四五六七八九]{3,4}"
# A room is 3-4 digits with 室/房/号, or without a suffix when no other unit word follows.
_ROOM = rf"(?P<room>{_ROOM_DIGITS})(?:室|房间|房|号(?![楼栋幢线])|(?![\d楼层元米块天年个人平号%.]))"

_FULL = re.compile(
    # Cheap first-character check: most positions of a long message cannot start an address.
    rf"(?=[a-z0-9{_CN}东南西北中])(?<![a-z0-9])"
    rf"(?:{_AREA}\s?)?{_BUILDING}(?:{_SEP}{_UNIT})?(?:{_SEP}{_ROOM})?"
)
_DASHED = re.compile(
    r"(?<![\d.:/-])(?P<b>\d{1,3})-(?P<u>\d{1,2})-(?P<r>\d{3,4})(?![\d.:/-])(?:室|号(?![楼栋幢]))?"
)
_UNIT_ROOM = re.compile(rf"(?<![\d{_CN}])(?P<unit>{_NUM})\s?单元(?:{_SEP}{_ROOM})?")
_ROOM_ONLY = re.compile(r"(?<![\d-])(?P<room>\d{3,4})(?:室|房间)")


_Adder = Callable[[str, str | None, int, int], None]


def _number(token: str) -> str | None:
    if len(token) == 1 and "a" <= token <= "z":
        return token.upper()
    value = cn_to_int(token)
    if value is None or value <= 0:
        return None
    return str(value)


def _area_prefix(area: str | None, kind: str | None) -> str:
    if not area or not kind:
        return ""
    if len(area) == 1 and "a" <= area <= "z":
        return area.upper() + kind
    if area in "东南西北中":
        return area + kind
    value = cn_to_int(area)
    return f"{value}{kind}" if value else ""


def _room_value(token: str) -> str | None:
    value = cn_to_int(token)
    if value is None:
        return None
    return str(value) if token.isascii() else token.translate(_ROOM_TRANSLATION)


_ROOM_TRANSLATION = str.maketrans("零〇一二三四五六七八九", "00123456789")


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

    for match in _DASHED.finditer(text):
        building, unit, room = match.group("b", "u", "r")
        if int(building) == 0 or int(unit) == 0:
            continue
        taken.append(match.span())
        add("building", f"{int(building)}幢", *match.span("b"))
        add("unit", str(int(unit)), *match.span("u"))
        add("room", room, match.start("r"), match.end())

    for match in _FULL.finditer(text):
        if not free(*match.span()):
            continue
        number = _number(match.group("bnum"))
        if number is None:
            continue
        taken.append(match.span())
        prefix = _area_prefix(match.group("area"), match.group("area_kind"))
        building_end = match.end("bnum")
        suffix = re.match(r"\s?(?:号楼|号栋|号幢|栋楼|幢楼|幢|栋|座|号|楼)", text[building_end:])
        if suffix:
            building_end += suffix.end()
        add("building", f"{prefix}{number}幢", match.start(), building_end)
        _add_unit_room(match, add)

    for match in _UNIT_ROOM.finditer(text):
        if free(*match.span()):
            taken.append(match.span())
            _add_unit_room(match, add)

    for match in _ROOM_ONLY.finditer(text):
        if free(*match.span()):
            taken.append(match.span())
            add("room", match.group("room"), *match.span())

    found.sort(key=lambda e: (e.start, e.end))
    return found


def _add_unit_room(match: re.Match[str], add: _Adder) -> None:
    groups = match.groupdict()
    if groups.get("unit"):
        add("unit", _number(groups["unit"]), match.start("unit"), _unit_end(match))
    elif groups.get("unit_dash"):
        add("unit", _number(groups["unit_dash"]), *match.span("unit_dash"))
    if groups.get("room"):
        value = _room_value(groups["room"])
        add("room", value, match.start("room"), match.end())


def _unit_end(match: re.Match[str]) -> int:
    end = match.end("unit")
    rest = match.string[end : end + 3]
    return end + (rest.index("单元") + 2 if "单元" in rest else 0)
