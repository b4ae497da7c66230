"""Masking personal data before it reaches a log line."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{3,4}(\d{4})(?!\d)")


def mask_id(user_id: str) -> str:
    """A platform id made safe to log: enough to correlate lines, not to identify anyone."""
    if len(user_id) <= 4:
        return "***"
    return f"{user_id[:2]}***{user_id[-2:]}"


def mask_text(text: str) -> str:
    """Mask phone numbers anywhere in a string (mobile 138****5678, landline 0571-****1234)."""
    text = _PHONE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1****\2", text)
