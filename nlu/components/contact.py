"""Phone numbers (mobile, landline, 400/800) and Chinese car plates, found with the patterns
of ``nlu/pii.py`` (the same ones the masking uses)."""

from __future__ import annotations

from nlu.pii import LANDLINE, MOBILE, PLATE, SERVICE_NUMBER, phone_digits, valid_plate_tail
from nlu.types import Entity

PHONE_EXTRACTOR = "regex_phone"
PLATE_EXTRACTOR = "regex_plate"


def extract_phones(text: str, original: str) -> list[Entity]:
    """Find phone numbers; the value is the digits only, without +86 (an extension is
    appended after ``-``)."""
    found: list[Entity] = []
    spans: list[tuple[int, int]] = []
    for pattern in (MOBILE, SERVICE_NUMBER, LANDLINE):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(not (end <= s or start >= e) for s, e in spans):
                continue
            groups = match.groupdict()
            extension = groups.get("ext")
            number = text[start : match.start("ext") - 1] if extension else text[start:end]
            value = phone_digits(number) + (f"-{extension}" if extension else "")
            spans.append((start, end))
            found.append(Entity("phone", value, start, end, original[start:end], PHONE_EXTRACTOR))
    return found


def extract_plates(text: str, original: str) -> list[Entity]:
    """Find car plates such as 浙A12345 or new-energy 浙AD12345; the value is upper-case."""
    found: list[Entity] = []
    for match in PLATE.finditer(text):
        tail = match.group("tail")
        if not valid_plate_tail(tail):
            continue
        value = (match.group("province") + match.group("letter") + tail).upper()
        start, end = match.span()
        found.append(Entity("plate", value, start, end, original[start:end], PLATE_EXTRACTOR))
    return found
