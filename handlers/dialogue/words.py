"""The dialogue's vocabulary: skip, cancel, status … words, ratings, ticket numbers, phones."""

from __future__ import annotations

import re

from nlu.numbers import to_int
from nlu.pii import mask

SKIP_WORDS = frozenset(
    {"跳过", "不用", "没有", "没", "不知道", "不清楚", "略过", "skip", "no", "none"}
)
CANCEL_WORDS = frozenset({"取消", "算了", "不报了", "撤销", "cancel", "退出"})
STATUS_WORDS = frozenset({"进度", "我的工单", "查询", "查进度", "工单", "status"})
FOLLOW_WORDS = frozenset(
    {
        "关注",
        "关注进度",
        "好",
        "好的",
        "是",
        "是的",
        "可以",
        "行",
        "要",
        "嗯",
        "ok",
        "yes",
        "follow",
    }
)
NEW_REPORT_WORDS = frozenset(
    {"仍要新报", "新报", "仍要报", "还是要报", "新报事", "不用", "不要", "不", "不是", "不是同一个"}
    | {"no", "report", "reportanyway"}
)
# '补充 MH-… 水越来越大了', '追加说明：…': a supplement to an open ticket
SUPPLEMENT_COMMAND = re.compile(
    r"^\s*(?:补充|追加)(?:说明|信息|情况|材料|内容|一下)?\s*[:：,，]?\s*"
    r"(?P<number>MH-\d{8}-\d{4})?\s*[:：,，]?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# buttons a text channel shows as words ("跳过", "取消"), never as numbers
UNNUMBERED = frozenset({"skip", "cancel"})
# 转人工: a person calls back (never an answer to a form's question)
HUMAN_WORDS = frozenset(
    {"转人工", "人工", "人工客服", "人工服务", "转人工服务", "找人工", "真人", "找真人"}
    | {"人工接听", "要人工", "我要人工", "转接人工", "human", "agent"}
)
_HUMAN_PHRASES = ("转人工", "人工客服", "人工服务", "找人工", "要人工", "转接人工")


def asks_for_human(text: str) -> bool:
    """转人工 / '6幢转人工' / '我要找人工客服': the resident wants a person."""
    key = word_key(text)
    return key in HUMAN_WORDS or any(phrase in key for phrase in _HUMAN_PHRASES)


HELP_WORDS = frozenset({"帮助", "使用帮助", "help", "?", "？", "怎么用"})
_PUNCT = re.compile(r"[\s。，,.!！？?~～、]+")
TICKET_NUMBER = re.compile(r"MH-\d{8}-\d{4}", re.IGNORECASE)
_RATING_WORDS: tuple[tuple[str, int], ...] = (
    ("非常不满意", 1),
    ("很不满意", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("非常满意", 5),
    ("很满意", 5),
    ("基本满意", 4),
    ("比较满意", 4),
    ("满意", 5),
    ("一般", 3),
    ("还行", 4),
    ("差评", 1),
    ("好评", 5),
    ("unsatisfied", 2),
    ("not satisfied", 2),
    ("satisfied", 5),
)


def word_key(text: str) -> str:
    """The text without spaces and punctuation, lower-cased: what word lists are matched on."""
    return _PUNCT.sub("", text).lower()


def parse_rating(text: str) -> int | None:
    """A 1–5 score from '5', '五星', '4分', '满意', '不满意' …; None when it is not a rating."""
    value = word_key(text)
    if not value:
        return None
    match = re.fullmatch(r"([1-5])(?:星|分|颗星)?", value)
    if match:
        return int(match.group(1))
    match = re.search(r"([一二两三四五])(?:星|分|颗星)", value) or re.search(
        r"([1-5])(?:星|分)", value
    )
    if match:
        return to_int(match.group(1))
    for word, score in _RATING_WORDS:
        if word in value:
            return score
    return None


def ticket_numbers(text: str) -> list[str]:
    """Every ticket number (MH-YYYYMMDD-NNNN) in ``text``, upper-cased, in order."""
    return [m.upper() for m in TICKET_NUMBER.findall(text)]


def mask_phone(phone: str) -> str:
    """139****5678: a phone as residents and logs may see it (``nlu.pii.mask``); anything
    else with digits in it is hidden whole."""
    masked = mask(phone, ("phone",))
    if masked != phone:
        return masked
    return "***" if any(ch.isdigit() for ch in phone) else ""
