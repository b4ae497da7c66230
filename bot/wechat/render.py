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


def render(
    message: Outbound,
    locale: str = "zh",
    *,
    photo_link: Callable[[str], str | None] | None = None,
) -> Rendered:
    """One message as WeChat text: its text, a photo link, then its buttons as numbers."""
    lines = [message.text.rstrip()]
    if message.image and photo_link is not None:
        url = photo_link(message.image)
        if url:
            lines.append(say("photo", locale, url=url))
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
    return Rendered("\n".join(lines).strip(), {n: b.payload for n, b in items})


def options_line(message: Outbound, locale: str = "zh") -> str:
    """The buttons on one line (template messages have a short remark field)."""
    items = numbered(message.buttons)
    if not items:
        return ""
    return say("options_line", locale, items=" ".join(f"【{n}】{b.title}" for n, b in items))


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
    last = max((i for i, m in enumerate(messages) if m.buttons), default=-1)
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


def split_passive(
    messages: Sequence[Outbound], max_bytes: int = PASSIVE_MAX_BYTES
) -> tuple[list[Outbound], list[Outbound]]:
    """The leading replies that fit one passive reply, and the rest (pushed afterwards)."""
    head: list[Outbound] = []
    for i, message in enumerate(messages):
        candidate = [*head, message]
        if head and len(join(candidate).text.encode("utf-8")) > max_bytes:
            return head, list(messages[i:])
        head = candidate
    return head, []


def chunks(text: str, max_bytes: int = CUSTOM_MAX_BYTES) -> list[str]:
    """Split a long text at line ends (or anywhere, for a giant line) under ``max_bytes``."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > max_bytes:
            cut = len(line)
            while len(line[:cut].encode("utf-8")) > max_bytes:
                cut = cut * 3 // 4
            if current:
                out.append(current)
                current = ""
            out.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode("utf-8")) > max_bytes:
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return [c.strip("\n") for c in out if c.strip()]


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
