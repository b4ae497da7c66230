"""Phone numbers (mobile, landline, 400/800) and Chinese car plates."""

from __future__ import annotations

import re

from nlu.types import Entity

PHONE_EXTRACTOR = "regex_phone"
PLATE_EXTRACTOR = "regex_plate"

_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(
    r"(?<![\d+])(?:\(?(0\d{2,3})\)?[- ]?)(\d{7,8})(?:(?:转|-|ext\.?)(\d{1,5}))?(?!\d)"
)
_SERVICE = re.compile(r"(?<!\d)([48]00)[- ]?(\d{3})[- ]?(\d{4})(?!\d)")

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"(?P<province>[{_PROVINCES}])(?P<letter>[a-z])[\s·.\-]?"
    r"(?P<tail>[a-z0-9]{5,6}|[a-z0-9]{4}[挂学警])(?![a-z0-9])"
)


def extract_phones(text: str, original: str) -> list[Entity]:
    """Find phone numbers; the value is the digits only (extension appended after ``-``)."""
    found: list[Entity] = []
    spans: list[tuple[int, int]] = []
    for pattern in (_MOBILE, _SERVICE, _LANDLINE):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(not (end <= s or start >= e) for s, e in spans):
                continue
            groups = [g for g in match.groups() if g]
            value = "".join(groups)
            if pattern is _LANDLINE and match.group(3):
                value = "".join(groups[:2]) + "-" + match.group(3)
            spans.append((start, end))
            found.append(Entity("phone", value, start, end, original[start:end], PHONE_EXTRACTOR))
    return found


def _valid_plate_tail(tail: str) -> bool:
    if len(tail) == 6:
        # New-energy plates: small cars D/F (newer series A-K) + one more + 4 digits; large
        # cars 5 digits + D/F.
        small = tail[0] in "abcdefghjk" and tail[2:].isdigit()
        large = tail[:5].isdigit() and tail[5] in "df"
        return small or large
    # Ordinary plates carry at most two letters in the last five characters.
    return sum(ch.isdigit() for ch in tail) >= 3


def extract_plates(text: str, original: str) -> list[Entity]:
    """Find car plates such as 浙A12345 or new-energy 浙AD12345; the value is upper-case."""
    found: list[Entity] = []
    for match in _PLATE.finditer(text):
        tail = match.group("tail")
        if not _valid_plate_tail(tail):
            continue
        value = (match.group("province") + match.group("letter") + tail).upper()
        start, end = match.span()
        found.append(Entity("plate", value, start, end, original[start:end], PLATE_EXTRACTOR))
    return found
