"""Text normalisation that keeps offsets (Chinese numerals: ``nlu/numbers.py``).

Every normalisation step maps one character to exactly one character, so an entity span
found in the normalised text is also the span in the original text. That is why HTML tags are
blanked with spaces instead of removed, and why OpenCC output of a different length falls back
to converting character by character.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

_TAG = re.compile(r"<[^<>\n]{0,200}>|&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
_FULLWIDTH_OFFSET = 0xFEE0  # U+FF01..U+FF5E map to U+0021..U+007E
_EXTRA_FOLD = str.maketrans(
    {
        "\u3000": " ",
        "\u00a0": " ",
        "—": "-",
        "–": "-",
        "‐": "-",
        "\t": " ",
        "\r": " ",
        "\n": " ",
        # ASCII-only lower-casing: str.lower() may change the length of other scripts.
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        # Full-width ASCII (U+FF01..U+FF5E) to half-width, lower-cased like the rest.
        **{
            chr(c): chr(c - _FULLWIDTH_OFFSET).lower()
            for c in range(0xFF01, 0xFF5F)
            if c != 0xFF0D  # full-width hyphen-minus, mapped below with the other dashes
        },
        "\uff0d": "-",
    }
)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Normalise a message for matching while keeping every character offset.

    Full-width ASCII becomes half-width, traditional characters become simplified (OpenCC
    ``t2s``), HTML/XML tags and entities become spaces, line breaks and tabs become spaces and
    ASCII letters are lower-cased.

    Args:
        text: the message as the user sent it.

    Returns:
        A string of exactly ``len(text)`` characters.
    """
    if not text:
        return ""
    folded = text.translate(_EXTRA_FOLD)
    if not folded.isascii():
        converted = _t2s().convert(folded)
        if len(converted) != len(folded):
            # Phrase-level conversions may change the length; per character they never do.
            converter = _t2s()
            converted = "".join(c if len(c := converter.convert(ch)) == 1 else ch for ch in folded)
        folded = converted
    if "<" in folded or "&" in folded:
        folded = _TAG.sub(lambda m: " " * (m.end() - m.start()), folded)
    return folded
