"""Masking personal data before it reaches a log line, a console page or the public feed.

What counts as personal data, and how it is covered, is decided once in ``nlu/pii.py``.
"""

from __future__ import annotations

from nlu.pii import mask


def mask_id(user_id: str) -> str:
    """A platform id made safe to log: enough to correlate lines, not to identify anyone."""
    if len(user_id) <= 4:
        return "***"
    return f"{user_id[:2]}***{user_id[-2:]}"


def mask_text(text: str) -> str:
    """Mask the personal data anywhere in a string: phones in any format (138****5678,
    0571-****1234), ID numbers, e-mails, plates, rooms and names (see ``nlu.pii.mask``)."""
    return mask(text)
