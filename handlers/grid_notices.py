"""Notices to residents (pure): categories, who is in a notice's scope, how a notice reads,
whether a resident's question or report is about an active notice.

Staff publish a notice (停水 / 停电 / 停气 / 电梯检修 / 施工 / 安全提示 / 活动) to a building,
a grid (with its micro-grids), a community or a street; ``handlers/notice_service.py``
delivers it through the outbox and answers residents from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 3  # a notice without an end is active this long


class Category(StrEnum):
    WATER = "water"
    POWER = "power"
    GAS = "gas"
    ELEVATOR = "elevator"
    CONSTRUCTION = "construction"
    SAFETY = "safety"
    ACTIVITY = "activity"
    OTHER = "other"


LABELS: dict[str, dict[str, str]] = {
    Category.WATER: {"zh": "停水", "en": "water outage"},
    Category.POWER: {"zh": "停电", "en": "power outage"},
    Category.GAS: {"zh": "停气", "en": "gas outage"},
    Category.ELEVATOR: {"zh": "电梯检修", "en": "elevator maintenance"},
    Category.CONSTRUCTION: {"zh": "施工", "en": "construction"},
    Category.SAFETY: {"zh": "安全提示", "en": "safety"},
    Category.ACTIVITY: {"zh": "活动", "en": "event"},
    Category.OTHER: {"zh": "通知", "en": "notice"},
}

# what a resident says when the problem is what a notice announced ("停水了", "没电了")
_PROBLEM_WORDS: dict[Category, re.Pattern[str]] = {
    Category.WATER: re.compile(r"停水|没水|没有水|断水|不出水|水压|水龙头.*(没|不)"),
    Category.POWER: re.compile(r"停电|没电|没有电|断电|跳闸|灯.*不亮.*整"),
    Category.GAS: re.compile(r"停气|没气|没有气|燃气|天然气|煤气"),
    Category.ELEVATOR: re.compile(r"电梯"),
    Category.CONSTRUCTION: re.compile(r"施工|工地|挖路|围挡"),
}
_WORD_CATEGORY: tuple[tuple[str, Category], ...] = (
    ("停水", Category.WATER),
    ("供水", Category.WATER),
    ("停电", Category.POWER),
    ("供电", Category.POWER),
    ("停气", Category.GAS),
    ("燃气", Category.GAS),
    ("电梯", Category.ELEVATOR),
    ("施工", Category.CONSTRUCTION),
    ("台风", Category.SAFETY),
    ("安全", Category.SAFETY),
    ("防汛", Category.SAFETY),
    ("活动", Category.ACTIVITY),
    ("接种", Category.ACTIVITY),
    ("疫苗", Category.ACTIVITY),
)
_QUESTION = re.compile(
    r"(有没有|有无|是不是|是否|会不会|什么时候|几点|何时|最近|哪天|多久)"
    r".*(停水|停电|停气|通知|公告|检修|施工)"
    r"|(停水|停电|停气|检修|施工)[^，。,.!！]{0,6}(吗|么|[?？])"
    r"|(停水|停电|停气|检修|施工)(通知|公告)"
    r"|^(通知|公告|社区通知|最新通知|查看通知)$"
)


def category_of(text: str) -> Category:
    """The category a notice's text names (停水 → water), else ``other``."""
    for word, category in _WORD_CATEGORY:
        if word in text:
            return category
    return Category.OTHER


def category_label(category: str, locale: str = "zh") -> str:
    label = LABELS.get(category, LABELS[Category.OTHER])
    return label.get(locale) or label["zh"]


def asks_about_notices(text: str) -> bool:
    """ "最近小区有没有停水通知？", "明天停电吗": a question, not a report."""
    return _QUESTION.search(text.strip()) is not None


def problem_category(text: str) -> Category | None:
    """The notice category a report's words match ("停水了" → water), if any."""
    for category, pattern in _PROBLEM_WORDS.items():
        if pattern.search(text):
            return category
    return None


@dataclass(frozen=True, slots=True)
class NoticeBrief:
    """What residents are told about an active notice."""

    id: int
    category: str
    text: str
    scope_name: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def line(self, locale: str = "zh", now: datetime | None = None) -> str:
        """ "5幢 12月8日 09:00–17:00【停水】管道维修…"."""
        window = window_text(self.starts_at, self.ends_at, now)
        head = " ".join(p for p in (self.scope_name, window) if p)
        return f"{head}【{category_label(self.category, locale)}】{self.text}"


def window_text(starts: datetime | None, ends: datetime | None, now: datetime | None) -> str:
    """ "明天 09:00–17:00", "12月9日 08:00–12月10日 18:00", "" without a start."""
    if starts is None:
        return ""
    start = starts.astimezone(LOCAL_TZ)
    today = (now or starts).astimezone(LOCAL_TZ).date()

    def day(value: datetime) -> str:
        delta = (value.date() - today).days
        return {0: "今天", 1: "明天", 2: "后天"}.get(delta, f"{value.month}月{value.day}日")

    text = f"{day(start)}{start:%H:%M}"
    if ends is not None:
        end = ends.astimezone(LOCAL_TZ)
        text += f"–{end:%H:%M}" if end.date() == start.date() else f"–{day(end)}{end:%H:%M}"
    return text


def is_active(
    starts: datetime | None, ends: datetime | None, created: datetime, now: datetime
) -> bool:
    """Still worth telling: not ended (a notice without an end lasts ``DEFAULT_DAYS``)."""
    del starts  # an announced outage is news before it starts, too
    end = ends if ends is not None else created + timedelta(days=DEFAULT_DAYS)
    return now < end


def matching(notices: Iterable[NoticeBrief], category: Category | None) -> list[NoticeBrief]:
    """The active notices a report about ``category`` is probably about."""
    if category is None:
        return []
    return [n for n in notices if n.category == category]


# --- chat command: 通知 5幢 明天9:00-17:00停水，… --------------------------------------------

_WINDOW = re.compile(
    r"(?P<day>今天|明天|后天)?\s*(?P<h1>\d{1,2})[:：点](?P<m1>\d{2})?\s*(?:分)?\s*"
    r"[-–—~～到至]\s*(?P<h2>\d{1,2})[:：点](?P<m2>\d{2})?"
)


def parse_window(text: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """ "明天9:00-17:00" → (tomorrow 09:00, tomorrow 17:00) local time; (None, None) if absent."""
    match = _WINDOW.search(text)
    if match is None:
        return None, None
    offset = {"今天": 0, "明天": 1, "后天": 2}.get(match.group("day") or "今天", 0)
    day = now.astimezone(LOCAL_TZ).date() + timedelta(days=offset)
    h1, h2 = int(match.group("h1")), int(match.group("h2"))
    m1, m2 = int(match.group("m1") or 0), int(match.group("m2") or 0)
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
        return None, None
    start = datetime(day.year, day.month, day.day, h1, m1, tzinfo=LOCAL_TZ)
    end = datetime(
        day.year, day.month, day.day, min(h2, 23), m2 if h2 < 24 else 59, tzinfo=LOCAL_TZ
    )
    if end <= start:
        end += timedelta(days=1)
    return start, end


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """Where a notice goes: ``kind`` building | grid | community | street."""

    kind: str
    id: int | None
    street: str = ""


def scope_from_json(scope: Mapping[str, object]) -> ScopeRef:
    """``{"building": 5}`` / ``{"grid": 2}`` / ``{"community": 1}`` / ``{"street": "西溪街道"}``.

    Raises:
        ValueError: not exactly one known key, or a bad id.
    """
    keys = [k for k in ("building", "grid", "community", "street") if k in scope]
    if len(keys) != 1 or len(scope) != 1:
        raise ValueError("scope must have exactly one of building, grid, community, street")
    kind = keys[0]
    value = scope[kind]
    if kind == "street":
        if not isinstance(value, str) or not value.strip():
            raise ValueError("street must be the street's name")
        return ScopeRef("street", None, value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{kind} must be a positive id")
    return ScopeRef(kind, value)
