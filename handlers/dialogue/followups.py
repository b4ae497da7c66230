"""After filing: the status of one's tickets, rating a resolved one, asking for a person.

``on_callback_phone`` is the callback stage: a resident who asked for a person (转人工)
without a phone on record is asked for one.
"""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.replies import rating_buttons
from handlers.dialogue.types import RateTicket, RequestCallback, Stage
from handlers.dialogue.words import ticket_numbers
from handlers.flows import category_label
from handlers.i18n import status_text, t
from handlers.messages import Button


def show_status(s: Step, text: str = "") -> None:
    """The resident's tickets (those named in ``text``, if any) and the ones they follow."""
    tickets = [*s.ctx.awaiting_rating, *s.ctx.open_tickets]
    wanted = ticket_numbers(text)
    if wanted:
        tickets = [tk for tk in tickets if tk.number in wanted] or tickets
    if not tickets and not s.ctx.followed_tickets:
        s.say(t("status.none", s.loc))
        return
    lines = [t("status.header", s.loc)]
    seen: set[str] = set()
    for ticket in tickets:
        if ticket.number in seen:
            continue
        seen.add(ticket.number)
        note = f"（{ticket.last_note}）" if ticket.last_note else ""
        lines.append(
            t(
                "status.line",
                s.loc,
                number=ticket.number,
                category=category_label(ticket.category, s.loc),
                location=ticket.location,
                status=status_text(ticket.status, s.loc),
                note=note,
            )
        )
    mark = t("status.followed_mark", s.loc)
    for ticket in s.ctx.followed_tickets:
        if ticket.number in seen or (wanted and ticket.number not in wanted):
            continue
        seen.add(ticket.number)
        lines.append(
            t(
                "status.line",
                s.loc,
                number=ticket.number,
                category=category_label(ticket.category, s.loc),
                location=ticket.location,
                status=status_text(ticket.status, s.loc),
                note=mark,
            )
        )
    buttons: tuple[Button, ...] = ()
    if s.ctx.awaiting_rating and s.state.stage == Stage.IDLE:
        buttons = rating_buttons(s.ctx.awaiting_rating[0].number, s.loc)
        lines.append(t("rate.ask_score", s.loc, number=s.ctx.awaiting_rating[0].number))
    elif s.ctx.open_tickets and s.state.stage == Stage.IDLE:
        buttons = tuple(
            Button(
                t("supplement.button.status", s.loc, number=tk.number),
                f"supplement:{tk.number}",
            )
            for tk in s.ctx.open_tickets[:3]
        )
    s.say("\n".join(lines), buttons)


def rate(s: Step, number: str, score: int) -> None:
    """Rate ticket ``number`` (only one awaiting the resident's rating)."""
    if not any(tk.number == number for tk in s.ctx.awaiting_rating):
        s.say(t("rate.nothing", s.loc))
        return
    s.turn.actions.append(RateTicket(number, score, s.msg.text.strip()[:200]))


def request_callback(s: Step) -> None:
    """转人工: a grid worker calls back; without a phone on record, ask for one first."""
    given = s.parse.first("phone") if s.parse else None
    phone = s.ctx.phone or (given.value if given else "")
    if not phone:
        s.state.stage = Stage.CALLBACK_PHONE
        s.say(
            t("human.need_phone", s.loc),
            [Button(t("button.cancel", s.loc), "cancel")],
            ask="phone",
        )
        return
    callback(s, phone)


def on_callback_phone(s: Step, text: str) -> None:
    """The phone for a callback: asked again until given or declined."""
    phone = s.parse.first("phone") if s.parse else None
    if phone is None:
        if s.is_skip(text):
            s.reset()
            s.say(t("cancelled", s.loc))
            return
        s.say(
            t("ask.phone.retry", s.loc),
            [Button(t("button.cancel", s.loc), "cancel")],
            ask="phone",
        )
        return
    callback(s, phone.value)


def callback(s: Step, phone: str) -> None:
    """Ask for the callback (``RequestCallback``), at the report's building or the home one."""
    slots = s.state.slots
    building = slots.get("building_id", "")
    home = s.ctx.home.id if s.ctx.home else None
    # what the resident told so far (a half-filled report) goes with the request
    told = [slots.get("description", ""), slots.get("building_name", "")]
    if s.state.stage != Stage.CALLBACK_PHONE:  # there the message is the phone itself
        told.append(s.msg.text.strip())
    note = "；".join(dict.fromkeys(part for part in told if part))
    s.turn.actions.append(
        RequestCallback(
            phone=phone,
            building_id=int(building) if building.isdigit() else home,
            note=note[:200],
        )
    )
    if s.state.stage != Stage.IDLE:
        s.reset()
