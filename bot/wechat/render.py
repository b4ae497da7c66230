"""How Minhu's messages look on WeChat, where there are no buttons: numbered text.

A message's buttons become a numbered list under its text and the numbers are remembered per
user (`Choices`), so a reply of "2" means the second button — for residents and workers alike,
for passive replies, customer-service messages and template messages. Two exceptions keep the
numbers honest: skip/cancel are offered as words ("跳过", "取消"; "2" stays a valid answer to
"which unit?"), and rating buttons are numbered by their score (reply "5" = five stars).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from handlers.dialogue import UNNUMBERED
from handlers.messages import Button, Outbound
from storage.interfaces import SessionStore

PASSIVE_MAX_BYTES = 2000  # WeChat cuts passive text replies at 2048 bytes
CUSTOM_MAX_BYTES = 2000  # and customer-service texts alike
CHOICES_TTL_SECONDS = 3 * 24 * 3600

TEXTS: dict[str, dict[str, str]] = {
    "choose": {"zh": "回复数字选择：", "en": "Reply with a number:"},
    "rate": {"zh": "回复数字打分（5分最满意）：", "en": "Reply with a score (5 = very satisfied):"},
    "skip": {"zh": "回复{word}跳过这一项", "en": "Reply {word} to skip this"},
    "cancel": {"zh": "回复{word}可随时放弃", "en": "Reply {word} to stop at any time"},
    "sep": {"zh": "；", "en": "; "},
    "photo": {"zh": "现场照片：{url}", "en": "Photo: {url}"},
    "options_line": {"zh": "回复数字：{items}", "en": "Reply with a number: {items}"},
}


def say(key: str, locale: str = "zh", **values: str) -> str:
    entry = TEXTS[key]
    return (entry.get(locale) or entry["zh"]).format(**values)


def _quote(title: str, locale: str) -> str:
    return f"“{title}”" if locale == "zh" else f"'{title}'"


@dataclass(frozen=True, slots=True)
class Rendered:
    """Text to send and the numbers it offers (``"1" → button payload``)."""

    text: str
    options: dict[str, str] = field(default_factory=dict)


def numbered(buttons: Sequence[Button]) -> list[tuple[str, Button]]:
    """The numbered buttons in display order; rating buttons carry their score as number."""
    choices = [b for b in buttons if b.payload not in UNNUMBERED]
    if choices and all(re.fullmatch(r"rate:[^:]+:[1-5]", b.payload) for b in choices):
        return [(b.payload.rsplit(":", 1)[1], b) for b in choices]
    return [(str(i), b) for i, b in enumerate(choices, start=1)]


def _words(buttons: Sequence[Button], text: str, locale: str) -> str:
    """Skip/cancel as words, unless the text already tells the user the word."""
    phrases = [
        say(b.payload, locale, word=_quote(b.title, locale))
        for b in buttons
        if _quote(b.title, locale) not in text
    ]
    return say("sep", locale).join(phrases)


def _body(
    message: Outbound, locale: str, photo_link: Callable[[str], str | None] | None
) -> list[str]:
    """A message's own lines: its text and, when it has a stored photo, a link to it."""
    lines = [message.text.rstrip()]
    if message.image and photo_link is not None:
        url = photo_link(message.image)
        if url:
            lines.append(say("photo", locale, url=url))
    return lines


def _block(message: Outbound, locale: str) -> tuple[list[str], dict[str, str]]:
    """The buttons as lines (numbered list, then the skip/cancel words) and what numbers mean."""
    lines: list[str] = []
    items = numbered(message.buttons)
    words = [b for b in message.buttons if b.payload in UNNUMBERED]
    if items:
        is_rating = items[0][1].payload.startswith("rate:")
        lines.append("")
        lines.append(say("rate" if is_rating else "choose", locale))
        lines += [f"【{number}】{button.title}" for number, button in items]
    hint = _words(words, message.text, locale)
    if hint:
        lines.append(hint)
    return lines, {n: b.payload for n, b in items}


def render(
    message: Outbound,
    locale: str = "zh",
    *,
    photo_link: Callable[[str], str | None] | None = None,
) -> Rendered:
    """One message as WeChat text: its text, a photo link, then its buttons as numbers."""
    block, options = _block(message, locale)
    return Rendered("\n".join(_body(message, locale, photo_link) + block).strip(), options)


def options_line(message: Outbound, locale: str = "zh") -> str:
    """The buttons on one line (template messages have a short remark field)."""
    items = numbered(message.buttons)
    if not items:
        return ""
    return say("options_line", locale, items=" ".join(f"【{n}】{b.title}" for n, b in items))


def _last_with_buttons(messages: Sequence[Outbound]) -> int:
    # the dialogue treats the last reply with buttons as the one a number answers
    return max((i for i, m in enumerate(messages) if m.buttons), default=-1)


def join(
    messages: Sequence[Outbound],
    locale: str = "zh",
    *,
    photo_link: Callable[[str], str | None] | None = None,
) -> Rendered:
    """Several replies as one passive reply (WeChat allows one): the last buttons count.

    The dialogue treats the last reply with buttons as the one a number answers; the others'
    buttons are dropped here the same way.
    """
    last = _last_with_buttons(messages)
    parts: list[str] = []
    options: dict[str, str] = {}
    for i, message in enumerate(messages):
        shown = message if i == last else Outbound(text=message.text, image=message.image)
        rendered = render(shown, locale, photo_link=photo_link)
        if rendered.text:
            parts.append(rendered.text)
        if i == last:
            options = rendered.options
    return Rendered("\n\n".join(parts), options)


# where a line too long for one message may be cut, best first: after a sentence, after a
# clause; a run of text with neither is cut at the last whole character that fits
_BREAKS = (
    re.compile(r"(?<=[。！？；…!?;])|(?<=\.)(?=\s)"),
    re.compile(r"(?<=[，、,：:）)】])"),
)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _pieces(line: str, max_bytes: int, level: int = 0) -> list[str]:
    """A line cut into pieces of at most ``max_bytes``, at sentence ends where possible."""
    if _size(line) <= max_bytes:
        return [line]
    if level < len(_BREAKS):
        units = [u for u in _BREAKS[level].split(line) if u]
        out: list[str] = []
        current = ""
        for unit in units:
            for piece in _pieces(unit, max_bytes, level + 1):
                if current and _size(current + piece) > max_bytes:
                    out.append(current)
                    current = ""
                current += piece
        return [*out, current] if current else out
    out = []
    while _size(line) > max_bytes:
        cut = len(line.encode("utf-8")[:max_bytes].decode("utf-8", "ignore"))
        out.append(line[:cut])
        line = line[cut:]
    return [*out, line] if line else out


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    sep: str  # what joins it to the unit before it in the same part
    atomic: bool = False  # the numbered list: never cut, never parted from the end


def _units(
    messages: Sequence[Outbound],
    locale: str,
    photo_link: Callable[[str], str | None] | None,
    max_bytes: int,
) -> tuple[list[_Unit], dict[str, str]]:
    last = _last_with_buttons(messages)
    units: list[_Unit] = []
    options: dict[str, str] = {}
    for i, message in enumerate(messages):
        block: list[str] = []
        if i == last:  # the others' buttons are dropped, as in join()
            block, options = _block(message, locale)
        body = "\n".join(_body(message, locale, photo_link)).strip()
        text_lines = body.split("\n") if body else []
        sep = "\n\n"
        for line in text_lines:
            for j, piece in enumerate(_pieces(line, max_bytes)):
                units.append(_Unit(piece, sep if j == 0 else ""))
            sep = "\n"
        tail = "\n".join(block).strip("\n")
        if tail:
            # a blank line between the text and the numbered list, as render() shows it
            joiner = ("\n\n" if block[0] == "" else "\n") if text_lines else "\n\n"
            if _size(tail) <= max_bytes:
                units.append(_Unit(tail, joiner, atomic=True))
            else:  # cannot happen with a handful of buttons; never lose a line if it does
                for k, line in enumerate(tail.split("\n")):
                    units.append(_Unit(line, joiner if k == 0 else "\n"))
    return units, options


def split(
    messages: Sequence[Outbound],
    locale: str = "zh",
    *,
    photo_link: Callable[[str], str | None] | None = None,
    first_max: int = PASSIVE_MAX_BYTES,
    max_bytes: int = CUSTOM_MAX_BYTES,
) -> tuple[list[str], dict[str, str]]:
    """Replies as WeChat texts within the byte limits: the first one (the passive reply) at
    most ``first_max`` bytes, every other one at most ``max_bytes``.

    Texts are cut between messages, then between lines, then after a sentence (or a clause);
    the last buttons' numbered list stays whole, at the end of its part, with the line before
    it when the list would otherwise stand alone. Returns the texts in order and what the
    numbers of that list mean (as `join` renders them when everything fits in one).
    """
    units, options = _units(messages, locale, photo_link, min(first_max, max_bytes))
    parts: list[list[_Unit]] = [[]]

    def size_of(part: list[_Unit]) -> int:
        return _size(_text(part))

    for unit in units:
        part = parts[-1]
        limit = first_max if len(parts) == 1 else max_bytes
        if not part or size_of([*part, unit]) <= limit:
            part.append(unit)
            continue
        carried: list[_Unit] = []
        if unit.atomic and len(part) > 1 and size_of([part[-1], unit]) <= max_bytes:
            carried = [part.pop()]  # the question the list answers goes along with it
        parts.append([*carried, unit])
    return [t for t in (_text(p) for p in parts) if t], options


def _text(part: Sequence[_Unit]) -> str:
    return "".join(u.text if i == 0 else u.sep + u.text for i, u in enumerate(part)).strip()


class Choices:
    """Remembers, per WeChat user, what each number in the last shown list stands for."""

    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions

    @staticmethod
    def _key(openid: str) -> str:
        return f"wechat:choices:{openid}"

    async def remember(self, openid: str, options: dict[str, str]) -> None:
        """Store the numbers just shown; an empty dict forgets the previous list."""
        await self._sessions.set_value(
            self._key(openid), json.dumps(options), ttl_seconds=CHOICES_TTL_SECONDS
        )

    async def lookup(self, openid: str, text: str) -> str | None:
        """The payload a bare number stands for, if the user was shown that number."""
        number = text.strip()
        if not re.fullmatch(r"\d{1,2}", number):
            return None
        raw = await self._sessions.get_value(self._key(openid))
        if not raw:
            return None
        try:
            options = json.loads(raw)
        except ValueError:
            return None
        payload = options.get(str(int(number))) if isinstance(options, dict) else None
        return payload if isinstance(payload, str) else None
