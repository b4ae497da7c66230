"""Chinese time expressions: 昨晚十点, 今天早上, 上周三下午, 5月3日, 每天凌晨两点, 3点半.

Values:
- with a reference time ``now``: an ISO datetime (``2024-05-01T22:00+08:00``) or date
  (``2024-05-01``), in ``now``'s timezone;
- without one: a relative description that the caller can resolve later, ``rel:day-1T22:00``
  (yesterday 22:00), ``rel:week-1:WET15:00``, ``rel:T03:30`` (a clock time on an unknown day);
  month-day dates without a year use ISO's ``--05-03``;
- recurrences: ``daily@02:00``, ``weekly@WE@19:00``, ``daily`` when no time of day is given.

A part of day without a clock time stands for a representative hour (早上 08:00, 晚上 21:00 ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from nlu.numbers import to_int
from nlu.types import Entity

EXTRACTOR = "regex_time"

_CN = "零〇一二两三四五六七八九十"
_N2 = rf"(?:\d{{1,2}}|[{_CN}]{{1,3}})"
_DAY_OFFSETS = {
    "大前天": -3,
    "前天": -2,
    "前晚": -2,
    "昨天": -1,
    "昨日": -1,
    "昨晚": -1,
    "昨夜": -1,
    "昨儿": -1,
    "今天": 0,
    "今日": 0,
    "今早": 0,
    "今晚": 0,
    "今夜": 0,
    "当天": 0,
    "明天": 1,
    "明日": 1,
    "明早": 1,
    "明晚": 1,
    "后天": 2,
    "大后天": 3,
}
_IMPLIED_PART = {"昨晚": "晚上", "昨夜": "夜里", "今早": "早上", "今晚": "晚上", "今夜": "夜里"}
_IMPLIED_PART |= {"明早": "早上", "明晚": "晚上", "前晚": "晚上"}
_PART_HOURS = {
    "凌晨": 3,
    "清晨": 6,
    "早上": 8,
    "早晨": 8,
    "上午": 10,
    "中午": 12,
    "午间": 12,
    "下午": 15,
    "傍晚": 18,
    "晚上": 21,
    "晚间": 21,
    "夜里": 22,
    "夜间": 22,
    "半夜": 23,
    "深夜": 23,
    "午夜": 0,
}
_LATE = frozenset({"夜里", "夜间", "半夜", "深夜", "午夜"})
_AFTERNOON = frozenset({"下午", "傍晚", "晚上", "晚间"})
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAYS |= {str(i): i - 1 for i in range(1, 8)}
_WD_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_DAY_WORDS = "|".join(sorted(_DAY_OFFSETS, key=len, reverse=True))
_PARTS = "|".join(sorted(_PART_HOURS, key=len, reverse=True))
_PATTERN = re.compile(
    # Every time expression starts with one of these characters; checking that first makes
    # the many positions of a long message that start nothing cheap.
    r"(?=[每天今昨前明后大当上下这本周星礼\d零〇一二两三四五六七八九十凌清早中午傍晚夜半深])"
    r"(?:"
    r"(?P<recur>每天|每日|天天|每晚|每夜|每(?:个)?(?:周|星期|礼拜)(?P<rwd>[一二三四五六日天1-7末]))"
    rf"|(?P<day>{_DAY_WORDS})"
    r"|(?P<week>(?P<wrel>上|下|这|本)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7]))"
    rf"|(?:(?P<year>\d{{4}})年)?(?P<month>{_N2})月(?P<mday>{_N2})[日号]"
    rf"|(?P<bare_mday>\d{{1,2}})[日号](?=\s?(?:{_PARTS}|{_N2}[点时:]))"
    r")?\s?"
    rf"(?P<part>{_PARTS})?\s?"
    rf"(?:(?<![\d.])(?P<hour>{_N2})(?:点|时(?!间|候|期))"
    rf"(?:(?P<minute>{_N2})分?|(?P<half>半)|(?P<quarter>[一三])刻)?(?P<zhong>钟)?"
    r"|(?P<chour>\d{1,2}):(?P<cminute>\d{2})(?!\d))?"
    r"(?:多|左右)?"
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    day_offset: int | None = None
    week: tuple[int, int] | None = None  # (week offset, weekday)
    ymd: tuple[int | None, int, int] | None = None
    hour: int | None = None
    minute: int = 0
    recur: str | None = None  # "daily" or a weekday code
    ambiguous_half_day: bool = False


def _n(token: str | None) -> int | None:
    return to_int(token) if token else None


def _parse(match: re.Match[str]) -> _Parsed | None:
    g = match.groupdict()
    part = g["part"] or _IMPLIED_PART.get(g["day"] or "")
    if g["recur"] in ("每晚", "每夜"):
        part = part or "晚上"
    hour = _n(g["hour"]) if g["hour"] else _n(g["chour"])
    minute = 0
    if g["minute"]:
        minute = _n(g["minute"]) or 0
    elif g["cminute"]:
        minute = int(g["cminute"])
    elif g["half"]:
        minute = 30
    elif g["quarter"]:
        minute = 15 if g["quarter"] == "一" else 45
    has_anchor = any(g[k] for k in ("recur", "day", "week", "month", "bare_mday"))
    if hour is None and not has_anchor:
        return None  # a bare part of day ("晚上很吵") is not specific enough
    if hour is not None and (hour > 24 or minute > 59):
        return None
    precise = g["minute"] or g["half"] or g["quarter"] or g["zhong"] or g["chour"]
    # "好一点" / "有三点意见": a bare Chinese numeral before 点 is rarely a time.
    bare_cn_hour = g["hour"] is not None and not g["hour"].isascii()
    if bare_cn_hour and not has_anchor and not part and not precise:
        return None
    day_extra = 0
    ambiguous = False
    if hour is not None:
        if part in _LATE and hour < 6:
            day_extra = 1  # 半夜两点 is 02:00 of the next day
        elif part in _LATE or part in _AFTERNOON:
            if hour < 12:
                hour += 12
            elif hour == 12:
                hour, day_extra = 0, 1
        elif part in ("中午", "午间") and hour <= 2:
            hour += 12
        elif part in ("凌晨", "早上", "早晨", "清晨", "上午") and hour == 12:
            hour = 0
        elif part is None and hour <= 12:
            ambiguous = True
        if hour == 24:
            hour, day_extra = 0, day_extra + 1
    elif part is not None:
        hour = _PART_HOURS[part]
    recur = None
    if g["recur"]:
        recur = "daily" if g["rwd"] is None else _WD_CODES[_WEEKDAYS[g["rwd"]]]
    week = None
    if g["week"]:
        rel = {"上": -1, "下": 1}.get(g["wrel"] or "", 0)
        week = (rel, _WEEKDAYS[g["wd"]])
    ymd = None
    if g["month"]:
        month, mday = _n(g["month"]), _n(g["mday"])
        if month is None or mday is None or not (1 <= month <= 12 and 1 <= mday <= 31):
            return None
        ymd = (int(g["year"]) if g["year"] else None, month, mday)
    elif g["bare_mday"]:
        mday = int(g["bare_mday"])
        if not 1 <= mday <= 31:
            return None
        ymd = (None, 0, mday)
    day_offset = _DAY_OFFSETS[g["day"]] if g["day"] else None
    if day_extra:
        day_offset = (day_offset or 0) + day_extra
    return _Parsed(
        day_offset=day_offset,
        week=week,
        ymd=ymd,
        hour=hour,
        minute=minute,
        recur=recur,
        ambiguous_half_day=ambiguous,
    )


def _clock(p: _Parsed) -> str:
    return f"{p.hour:02d}:{p.minute:02d}" if p.hour is not None else ""


def _relative_value(p: _Parsed) -> str:
    clock = _clock(p)
    tail = f"T{clock}" if clock else ""
    if p.ymd is not None:
        year, month, mday = p.ymd
        if year is not None:
            head = f"{year:04d}-{month:02d}-{mday:02d}"
            return head + tail
        head = f"--{month:02d}-{mday:02d}" if month else f"---{mday:02d}"
        return head + tail
    if p.week is not None:
        return f"rel:week{p.week[0]:+d}:{_WD_CODES[p.week[1]]}{tail}"
    if p.day_offset is not None:
        return f"rel:day{p.day_offset:+d}{tail}"
    return f"rel:{tail}"


def _resolve(p: _Parsed, now: datetime) -> str:
    today = now.date()
    day: date | None = None
    if p.ymd is not None:
        year, month, mday = p.ymd
        try:
            day = date(year or today.year, month or today.month, mday)
        except ValueError:
            return _relative_value(p)
        if p.day_offset:
            day += timedelta(days=p.day_offset)
    elif p.week is not None:
        monday = today - timedelta(days=today.weekday())
        day = monday + timedelta(weeks=p.week[0], days=p.week[1])
        if p.day_offset:
            day += timedelta(days=p.day_offset)
    elif p.day_offset is not None:
        day = today + timedelta(days=p.day_offset)
    if p.hour is None:
        return day.isoformat() if day else _relative_value(p)
    if day is None:
        return _latest_clock(p, now).isoformat(timespec="minutes")
    moment = datetime(day.year, day.month, day.day, p.hour, p.minute, tzinfo=now.tzinfo)
    return moment.isoformat(timespec="minutes")


def _latest_clock(p: _Parsed, now: datetime) -> datetime:
    # A bare clock time in a report ("3点半电梯停了") is the latest such moment not after now;
    # without 上午/下午, both 03:30 and 15:30 are candidates.
    hour = p.hour or 0
    hours = [hour] + ([hour + 12] if p.ambiguous_half_day and hour < 12 else [])
    candidates = [
        datetime(d.year, d.month, d.day, h % 24, p.minute, tzinfo=now.tzinfo)
        for d in (now.date(), now.date() - timedelta(days=1))
        for h in hours
    ]
    past = [c for c in candidates if c <= now]
    return max(past) if past else min(candidates)


def extract_times(text: str, original: str, now: datetime | None = None) -> list[Entity]:
    """Find time expressions.

    Args:
        text: normalised text.
        original: the text as sent (same length).
        now: reference time to resolve relative expressions; None leaves them relative.

    Returns:
        ``time`` entities in text order.
    """
    found: list[Entity] = []
    for match in _PATTERN.finditer(text):
        start, end = match.span()
        if end - start < 2:
            continue
        parsed = _parse(match)
        if parsed is None:
            continue
        while end > start and text[end - 1] == " ":
            end -= 1
        if parsed.recur is not None:
            head = "daily" if parsed.recur == "daily" else f"weekly@{parsed.recur}"
            clock = _clock(parsed)
            value = f"{head}@{clock}" if clock else head
        elif now is None:
            value = _relative_value(parsed)
        else:
            value = _resolve(parsed, now)
        found.append(Entity("time", value, start, end, original[start:end], EXTRACTOR))
    return found
