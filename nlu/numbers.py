"""Numbers as residents write them: Chinese numerals, and the building / unit / room forms
built from them. cn2an reads the numerals; this module is the one place that knows the forms.

Canonical values, the ones entities carry and the registry is matched on:

* building ``<area><n>幢``: ``3号楼`` / ``三幢`` / ``3栋`` → ``3幢``, ``一千零一号楼`` → ``1001幢``,
  ``B区5号楼`` → ``B区5幢``, ``二期三幢`` → ``2期3幢``, ``东区3栋`` → ``东区3幢``;
* unit ``2`` (``2单元``, ``二单元``);
* room ``501`` (``501室``, ``五零一``, ``五百零一``).

The regular expressions below run on text folded by ``nlu.text.normalize`` (half-width,
lower-case ASCII); :func:`parse_address` and :func:`building_key` fold for themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import cn2an

from nlu.text import normalize

CN_DIGITS = "零〇一幺二两三四五六七八九"
"""Chinese digits, including 两 (two, before a unit) and 幺 (one, read aloud in numbers)."""
CN_NUMERAL = CN_DIGITS + "十百千"
"""Characters a Chinese numeral up to 9999 may consist of (for building regular expressions)."""

# Full-width ASCII to half-width; "○" (a circle, often typed for 〇) to the numeral zero.
_FOLD = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "○": "〇"})
_DIGIT_BY_DIGIT = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")


def fold(text: str) -> str:
    """Full-width letters and digits to half-width (same length), ``○`` to ``〇``."""
    return text.translate(_FOLD)


@lru_cache(maxsize=4096)
def to_int(token: str) -> int | None:
    """The value of an Arabic or Chinese numeral, or None when the token is not one.

    Reads ``12``, ``１２``, ``十二``, ``二十三``, ``一百零五``, ``三百三`` (330), ``一千零一``,
    ``两``, ``幺``, and digit by digit ``五零一`` (how room numbers are read aloud).
    """
    text = fold(token).strip()
    if not text:
        return None
    if text.isascii():
        return int(text) if text.isdigit() else None
    if any(ch not in CN_NUMERAL for ch in text):
        return None
    try:
        value = cn2an.cn2an(text, "normal")
    except ValueError:  # "百", "十十": characters of a numeral, not a numeral
        return None
    return int(value)


def to_chinese(number: int) -> str:
    """The Chinese numeral of a non-negative integer: 3 → 三, 12 → 十二, 1001 → 一千零一."""
    return str(cn2an.an2cn(number))


def room_number(token: str) -> str | None:
    """A room number as digits: ``501``, ``五零一`` → ``501``, ``五百零一`` → ``501``,
    ``零一零一`` → ``0101`` (read digit by digit, so leading zeros stay)."""
    text = fold(token).strip()
    if text.isascii():
        return str(int(text)) if text.isdigit() else None
    if text and all(ch in CN_DIGITS for ch in text):
        return text.translate(_DIGIT_BY_DIGIT)
    value = to_int(text)
    return None if value is None else str(value)


def ordinal(token: str) -> str | None:
    """A building or unit number: a positive numeral, or a single letter (``b`` → ``B``)."""
    if len(token) == 1 and token.isascii() and token.isalpha():
        return token.upper()
    value = to_int(token)
    if value is None or value <= 0:
        return None
    return str(value)


def area_prefix(area: str | None, kind: str | None) -> str:
    """The canonical area before a building number: ``b``+``区`` → ``B区``, ``二``+``期`` →
    ``2期``, ``东``+``区`` → ``东区``; empty when there is none."""
    if not area or not kind:
        return ""
    if len(area) == 1 and area.isascii() and area.isalpha():
        return area.upper() + kind
    if area in "东南西北中":
        return area + kind
    value = to_int(area)
    return f"{value}{kind}" if value else ""


def building_value(number: str, area: str | None = None, kind: str | None = None) -> str | None:
    """The canonical building (``B区5幢``) from its number and optional area, or None."""
    value = ordinal(number)
    return None if value is None else f"{area_prefix(area, kind)}{value}幢"


# --- the forms, as regular expressions over normalised text ----------------------------------

_CN = CN_NUMERAL
NUM = rf"(?:\d{{1,4}}|[{_CN}]{{1,5}})"
AREA = rf"(?P<area>[a-z]|\d{{1,2}}|[{_CN}]{{1,3}}|[东南西北中])(?P<area_kind>区|期)"
# "3楼" alone is a floor, so bare 楼 only counts as a building when a unit follows.
BUILDING = (
    # "两栋楼" means two buildings and "一栋楼" a building, so those are not building numbers.
    rf"(?P<bnum>(?!两[栋幢座号楼]|一[栋幢]楼){NUM}|[a-z])\s?"
    rf"(?:号楼|号栋|号幢|栋楼|幢楼|幢|栋|座|(?:号|楼)(?=\s?[-,，]?\s?{NUM}\s?单元))"
)
BUILDING_SUFFIX = re.compile(r"\s?(?:号楼|号栋|号幢|栋楼|幢楼|幢|栋|座|号|楼)")
SEP = r"\s?[-,，、]?\s?"
UNIT = rf"(?:(?P<unit>{NUM})\s?单元|(?P<unit_dash>\d{{1,2}})-(?=\d{{3,4}}))"
_ROOM_DIGITS = rf"\d{{3,4}}|[{CN_DIGITS}]{{3,4}}"
# A room is 3-4 digits with 室/房/号, or without a suffix when no other unit word follows.
ROOM = rf"(?P<room>{_ROOM_DIGITS})(?:室|房间|房|号(?![楼栋幢线])|(?![\d楼层元米块天年个人平号%.]))"

FULL = re.compile(
    # Cheap first-character check: most positions of a long message cannot start an address.
    rf"(?=[a-z0-9{_CN}东南西北中])(?<![a-z0-9])"
    rf"(?:{AREA}\s?)?{BUILDING}(?:{SEP}{UNIT})?(?:{SEP}{ROOM})?"
)
DASHED = re.compile(
    r"(?<![\d.:/-])(?P<b>\d{1,3})-(?P<u>\d{1,2})-(?P<r>\d{3,4})(?![\d.:/-])(?:室|号(?![楼栋幢]))?"
)
UNIT_ROOM = re.compile(rf"(?<![\d{_CN}])(?P<unit>{NUM})\s?单元(?:{SEP}{ROOM})?")
ROOM_ONLY = re.compile(r"(?<![\d-])(?P<room>\d{3,4})(?:室|房间)")


@dataclass(frozen=True, slots=True)
class Address:
    """A building, unit and room in canonical form (empty when not given)."""

    building: str = ""
    unit: str = ""
    room: str = ""


def parse_address(text: str) -> Address | None:
    """Read a whole string that is an address form: ``3号楼``, ``三幢``, ``一千零一号楼``,
    ``3-2-501``, ``B区5号楼``, ``二期三幢``, ``３栋２单元５０１``, ``2单元501``; None otherwise."""
    norm = normalize(text).strip()
    dashed = DASHED.fullmatch(norm)
    if dashed:
        building, unit = ordinal(dashed.group("b")), ordinal(dashed.group("u"))
        if building is None or unit is None:
            return None
        return Address(f"{building}幢", unit, room_number(dashed.group("r")) or "")
    full = FULL.fullmatch(norm) or UNIT_ROOM.fullmatch(norm)
    if full is None:
        return None
    groups = full.groupdict()
    building = ""
    if groups.get("bnum"):
        building = building_value(groups["bnum"], groups.get("area"), groups.get("area_kind")) or ""
        if not building:
            return None
    unit = ordinal(groups.get("unit") or groups.get("unit_dash") or "") or ""
    room = (room_number(groups["room"]) or "") if groups.get("room") else ""
    return Address(building, unit, room)


_NUMERAL_RUN = re.compile(rf"[{_CN}]+")
_NUMBERED = re.compile(r"(\d+)\s*(?:号楼|号|栋|幢|座|楼|#)")


def building_key(text: str) -> str:
    """A comparable key for what people call a building: ``三号楼``, ``3栋``, ``３幢`` → ``3幢``;
    ``b区5号楼`` → ``B区5幢``; ``3-2-501`` → ``3幢``; ``阳光花园三幢`` → ``阳光花园3幢``;
    a name without a number stays as written (``综合楼``), case and width folded."""
    folded = re.sub(r"\s+", "", fold(text)).upper()
    address = parse_address(folded)
    if address is not None and address.building:
        return address.building
    value = _NUMERAL_RUN.sub(lambda m: str(n) if (n := to_int(m.group())) else m.group(), folded)
    return _NUMBERED.sub(lambda m: f"{int(m.group(1))}幢", value)
