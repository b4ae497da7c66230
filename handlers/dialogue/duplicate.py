"""Duplicate: the same problem is already open — follow it, add to one's own, or report anyway.

The service finds the duplicate when it runs ``CreateTicket`` and calls ``offer_duplicate``;
the held report waits in the state (``draft``) until the resident answers.
"""

from __future__ import annotations

from dataclasses import replace

from handlers.dialogue.base import Step
from handlers.dialogue.prompts import say_duplicate_offer
from handlers.dialogue.replies import duplicate_offer, menu_buttons
from handlers.dialogue.types import (
    AddSupplement,
    CreateTicket,
    DialogueState,
    FollowTicket,
    Stage,
    draft_from_dict,
    draft_to_dict,
)
from handlers.dialogue.words import FOLLOW_WORDS, NEW_REPORT_WORDS, word_key
from handlers.i18n import t
from handlers.messages import Outbound


def offer_duplicate(
    state: DialogueState, action: CreateTicket, *, number: str, status: str, own: bool, locale: str
) -> Outbound:
    """Hold a report that repeats an open ticket and ask what the resident wants.

    Called by the service when it finds the duplicate; the held draft waits in ``state``
    until the resident answers (or the conversation expires).

    Args:
        state: the conversation state after the step that filed ``action`` (changed here).
        action: the report being held.
        number: the open ticket it repeats.
        status: that ticket's status, as the resident reads it.
        own: the open ticket is the resident's own (offer to add to it instead of following).
        locale: the resident's language.

    Returns:
        The question, with its buttons.
    """
    state.stage = Stage.DUPLICATE
    state.draft = draft_to_dict(action)
    state.ticket = number
    state.asking = None
    state.retries = 0
    state.slots = {"dup_status": status, "dup_own": "1" if own else ""}
    message = duplicate_offer(number, status, own, locale)
    state.offered = [b.payload for b in message.buttons]
    return message


def on_choice(s: Step, choice: str) -> None:
    """``dup:follow`` / ``dup:add`` / ``dup:new``: follow, add to it, or file the held report."""
    draft = draft_from_dict(s.state.draft)
    number = s.state.ticket
    if s.state.stage != Stage.DUPLICATE or draft is None or not number:
        s.say(t("not_understood", s.loc), menu_buttons(s.loc))
        return
    anyway = replace(draft, allow_duplicate=True)
    if choice == "follow":
        s.turn.actions.append(FollowTicket(number, anyway))
    elif choice == "add":
        s.turn.actions.append(AddSupplement(number, draft.description, draft.photos, anyway))
    elif choice == "new":
        s.turn.actions.append(anyway)
    else:
        say_duplicate_offer(s)
        return
    s.reset()


def on_text(s: Step, text: str) -> None:
    """A typed answer: yes follows (or adds), no reports anyway; unclear asks again."""
    key = word_key(text)
    own = bool(s.state.slots.get("dup_own"))
    if key in NEW_REPORT_WORDS or s.confident("deny"):
        on_choice(s, "new")
    elif key in FOLLOW_WORDS or s.confident("affirm") or key in {"补充", "补充到该工单"}:
        on_choice(s, "add" if own else "follow")
    else:
        s.state.retries += 1
        if s.state.retries > s.cfg.max_retries:
            # never trap a resident: their words become the report they meant to file
            on_choice(s, "new")
            return
        say_duplicate_offer(s)
