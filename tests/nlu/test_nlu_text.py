"""Normalisation keeps offsets; numerals convert."""

from __future__ import annotations

import pytest

from nlu.text import normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("電梯壞了", "电梯坏了"),
        ("３幢ＡＢ", "3幢ab"),
        ("<b>漏水</b>", "   漏水    "),
        ("a&amp;b", "a     b"),
        ("第一行\n第二行", "第一行 第二行"),
        ("", ""),
    ],
)
def test_normalize_folds_text_when_input_is_traditional_full_width_or_html(
    text: str, expected: str
) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    ["İstanbul 電梯", "😀" * 5, "ǅ", "\u0130\u0131", "mixed 混合 テスト 한국어 ١٢٣", "x" * 10000],
)
def test_normalize_keeps_length_when_input_has_any_script(text: str) -> None:
    assert len(normalize(text)) == len(text)
