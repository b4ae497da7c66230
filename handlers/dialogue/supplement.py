"""Supplement: the resident adds information or photos to one of their open tickets.

Entered by "补充 …" (``start_from_command``), a [补充 MH-…] button (``on_button``) or a photo
sent while tickets are open (``on_media``: never guessed — the resident chooses).
"""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.prompts import ask_supplement
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.types import AddSupplement, Stage
from handlers.dialogue.words import SUPPLEMENT_COMMAND, ticket_numbers, word_key
from handlers.i18n import t


def own_open(s: Step, number: str) -> bool:
    """Ticket ``number`` is one of the resident's open tickets."""
    return any(tk.number == number for tk in s.ctx.open_tickets)


def pending_content(s: Step) -> tuple[str, tuple[int, ...]]:
    """The words and photos held while the resident chooses the ticket."""
    slots = s.state.slots
    photos = tuple(int(p) for p in slots.get("photos", "").split(",") if p.isdigit())
    return slots.get("description", ""), photos


def add(s: Step, number: str, text: str, photos: tuple[int, ...]) -> None:
    """Add ``text`` and ``photos`` to ticket ``number`` (``AddSupplement``); the stage ends."""
    s.turn.actions.append(AddSupplement(number, text[: s.cfg.max_text], photos))
    s.reset()


def on_button(s: Step, number: str) -> None:
    """[补充 MH-…]: add what is held to that ticket, or ask what to add."""
    if not own_open(s, number):
        s.reset()
        s.say(t("supplement.not_open", s.loc, number=number))
        return
    text, photos = pending_content(s)
    if s.state.stage == Stage.SUPPLEMENT and (text or photos):
        add(s, number, text, photos)
        return
    s.reset()
    s.state.stage = Stage.SUPPLEMENT
    s.state.ticket = number
    ask_supplement(s)


def on_media(s: Step, photos: list[int]) -> None:
    """Photos for the chosen ticket are added; otherwise they are held and the resident asked."""
    caption = s.msg.text.strip()
    if s.state.stage == Stage.SUPPLEMENT and s.state.ticket:
        text, held = pending_content(s)
        add(s, s.state.ticket, caption or text, (*held, *photos))
        return
    # a photo while tickets are open: never guess — ask where it belongs
    if s.state.stage != Stage.SUPPLEMENT:
        s.reset()
        s.state.stage = Stage.SUPPLEMENT
    existing = [p for p in s.state.slots.get("photos", "").split(",") if p]
    s.state.slots["photos"] = ",".join([*existing, *map(str, photos)])
    if caption:
        s.state.slots["description"] = caption[: s.cfg.max_text]
    ask_supplement(s)


def on_text(s: Step, text: str) -> bool:
    """The supplement's words, or a ticket number choosing where the held photos go.

    Returns:
        False when the resident gave up choosing (too many unclear answers): the stage is left
        and the caller reads ``text`` as an idle message.
    """
    held_text, photos = pending_content(s)
    if s.state.ticket:
        add(s, s.state.ticket, text, photos)
        return True
    chosen = [n for n in ticket_numbers(text) if own_open(s, n)]
    if chosen:
        add(s, chosen[0], held_text, photos)
        return True
    s.state.retries += 1
    if s.state.retries > s.cfg.max_retries:
        s.reset()
        return False
    ask_supplement(s)
    return True


def start_from_command(s: Step, text: str) -> bool:
    """'补充 MH-… 水越来越大了' / '补充：…': True when handled as a supplement."""
    match = SUPPLEMENT_COMMAND.match(text)
    if match is None:
        return False
    number = (match.group("number") or "").upper()
    rest = match.group("rest").strip()
    if word_key(rest) in {"", "照片", "图片", "一下", "说明"}:
        rest = ""
    if number and not own_open(s, number):
        s.say(t("supplement.not_open", s.loc, number=number))
        return True
    if not number:
        if not s.ctx.open_tickets:
            if rest:
                return False  # no open ticket: it may well be a new report
            s.say(t("supplement.none", s.loc), menu_buttons(s.loc))
            return True
        if len(s.ctx.open_tickets) == 1:
            number = s.ctx.open_tickets[0].number
    if number and rest:
        add(s, number, rest, ())
        return True
    s.reset()
    s.state.stage = Stage.SUPPLEMENT
    s.state.ticket = number or None
    if rest:
        s.state.slots["description"] = rest[: s.cfg.max_text]
    ask_supplement(s)
    return True
