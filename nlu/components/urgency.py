"""Urgency cues: people trapped, fire, smoke, electricity or gas leaks, injuries.

A cue fires an ``urgency`` entity with value ``urgent`` unless a negation stands shortly
before it in the same clause ("没有人被困", "并未冒烟").
"""

from __future__ import annotations

import re

from nlu.types import Entity

EXTRACTOR = "urgency_cues"

URGENT_CUES: tuple[str, ...] = (
    "被困",
    "困人",
    "困住",
    "关在电梯",
    "卡在电梯",
    "着火",
    "起火",
    "失火",
    "火灾",
    "火警",
    "烧起来",
    "冒烟",
    "浓烟",
    "漏电",
    "触电",
    "电线着火",
    "燃气泄漏",
    "煤气泄漏",
    "天然气泄漏",
    "燃气泄露",
    "煤气泄露",
    "天然气泄露",
    "漏气",
    "煤气味",
    "燃气味",
    "有人受伤",
    "受伤",
    "流血",
    "晕倒",
    "昏倒",
    "昏迷",
    "摔倒",
    "坠落",
    "坠楼",
    "爆炸",
    "救命",
    "溺水",
    "倒塌",
    "坍塌",
    "塌了",
)

_CUE = re.compile("|".join(sorted(map(re.escape, URGENT_CUES), key=len, reverse=True)))
_NEGATION = re.compile(r"没有|没|无|未|并非|不是|不会|别|防止|预防|以免|避免|谨防")
_CLAUSE_BREAK = re.compile(r"[,，。.!！?？;；、:\s]")
_WINDOW = 5


def extract_urgency(text: str, original: str) -> list[Entity]:
    """Find urgency cues that are not negated; one entity per cue occurrence."""
    found: list[Entity] = []
    for match in _CUE.finditer(text):
        start, end = match.span()
        window_start = max(0, start - _WINDOW)
        before = text[window_start:start]
        breaks = list(_CLAUSE_BREAK.finditer(before))
        if breaks:
            before = before[breaks[-1].end() :]
        if _NEGATION.search(before):
            continue
        found.append(Entity("urgency", "urgent", start, end, original[start:end], EXTRACTOR))
    return found
