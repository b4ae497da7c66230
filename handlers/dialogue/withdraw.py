"""撤销: a resident withdraws their own report while it is not yet resolved (pure).

"取消" with no form open used to answer "nothing to cancel"; with open reports of their own
it now asks which one to withdraw and confirms before anything happens (a withdrawn ticket
stops the worker's work, so a stray "算了" must not do it on its own).
"""

from __future__ import annotations

import re

from handlers.dialogue.base import Step
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.types import TicketBrief, WithdrawTicket
from handlers.dialogue.words import CANCEL_WORDS, TICKET_NUMBER, ticket_numbers, word_key
from handlers.flows import category_label
from handlers.i18n import t
from handlers.messages import Button

REASON = "withdraw_reason"
_ASKS = re.compile(r"^\s*(撤销|撤回|撤单|withdraw)", re.IGNORECASE)


def asks(text: str) -> bool:
    """ "撤销 MH-… 灯已经修好了": a withdrawal of a named ticket, whatever the NLU thinks."""
    return _ASKS.match(text) is not None and bool(ticket_numbers(text))


def offer(s: Step, text: str = "") -> None:
    """No form is open: offer to withdraw one of the resident's unresolved reports."""
    own = list(s.ctx.open_tickets)
    named = [n for n in ticket_numbers(text) if n in {b.number for b in own}]
    s.reset()
    if not own:
        s.say(t("nothing_to_cancel", s.loc), menu_buttons(s.loc))
        return
    reason = _reason(text)
    if reason:
        s.state.slots[REASON] = reason[:200]
    if named or len(own) == 1:
        number = named[0] if named else own[0].number
        confirm(s, number)
        return
    s.say(
        t("withdraw.choose", s.loc),
        [Button(_label(b, s.loc), f"withdraw:{b.number}") for b in own[:8]],
    )


def confirm(s: Step, number: str) -> None:
    """Ask before withdrawing one ticket (the payload names it)."""
    brief = _own(s, number)
    if brief is None:
        s.say(t("withdraw.not_found", s.loc, number=number))
        return
    s.say(
        t(
            "withdraw.confirm",
            s.loc,
            number=brief.number,
            category=category_label(brief.category, s.loc),
            location=brief.location or "-",
        ),
        [
            Button(t("withdraw.button.yes", s.loc), f"withdraw_yes:{brief.number}"),
            Button(t("withdraw.button.no", s.loc), f"withdraw_no:{brief.number}"),
        ],
    )


def on_button(s: Step, head: str, number: str) -> None:
    """withdraw:MH-… (choose), withdraw_yes:MH-… (do it), withdraw_no:MH-… (keep it)."""
    if not TICKET_NUMBER.fullmatch(number):
        s.say(t("not_understood", s.loc), menu_buttons(s.loc))
        return
    number = number.upper()
    if head == "withdraw":
        confirm(s, number)
    elif head == "withdraw_yes":
        reason = s.state.slots.get(REASON, "")
        s.reset()
        s.turn.actions.append(WithdrawTicket(number, reason))
    else:
        s.reset()
        s.say(t("withdraw.kept", s.loc, number=number))


def _own(s: Step, number: str) -> TicketBrief | None:
    return next((b for b in s.ctx.open_tickets if b.number == number), None)


def _label(brief: TicketBrief, locale: str) -> str:
    return f"{brief.number} {category_label(brief.category, locale)}"


def _reason(text: str) -> str:
    """What the resident said beyond "撤销" ("水来了，不用处理了"), for the worker."""
    rest = text
    for number in ticket_numbers(text):
        rest = rest.replace(number, "").replace(number.lower(), "")
    rest = _ASKS.sub("", rest)
    rest = re.sub(r"\s+", " ", rest).strip(" ,，。.!！:：")
    if not rest or word_key(rest) in CANCEL_WORDS:
        return ""
    return rest
