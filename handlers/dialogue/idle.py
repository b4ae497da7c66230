"""Idle: no form is open. A report starts, a question is answered, a rating is taken.

``on_followup_phone`` is the stage after an urgent report filed without a phone: a phone is
added to the ticket, anything else is read as an idle message.
"""

from __future__ import annotations

from handlers.dialogue import notices, supplement, withdraw
from handlers.dialogue.base import Step
from handlers.dialogue.clarifying import report_with_details, unsure
from handlers.dialogue.followups import rate, request_callback, show_status
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.report import says_more, start_from_details, start_report
from handlers.dialogue.types import AddContactPhone
from handlers.dialogue.words import HELP_WORDS, STATUS_WORDS, asks_for_human, parse_rating, word_key
from handlers.flows import CONVERSATION_INTENTS, FALLBACK_FLOW
from handlers.i18n import t


def on_text(s: Step, text: str) -> None:
    """A message outside any form: by its words first, then by its confident intent."""
    key = word_key(text)
    intent, conf = s.intent, s.confidence
    if key in STATUS_WORDS or (intent == "query_status" and conf >= s.cfg.clarify_threshold):
        show_status(s, text)
        return
    if key in HELP_WORDS:
        s.say(t("help", s.loc), menu_buttons(s.loc))
        return
    if asks_for_human(text):
        request_callback(s)
        return
    if notices.on_words(s, key, text):
        return
    if supplement.start_from_command(s, text):
        return
    # a pending rating: "5", "满意", "不满意" after a resolved ticket
    if s.ctx.awaiting_rating:
        score = parse_rating(text)
        if score is not None and (intent in ("rate", "affirm", "deny") or len(key) <= 8):
            rate(s, s.ctx.awaiting_rating[0].number, score)
            return
    if conf >= s.cfg.clarify_threshold:
        if intent in s.cfg.flows:
            if not s.settled():
                unsure(s, text)  # 其他问题, or one of the specific categories it nearly was
            elif not notices.hold_report(s, intent, text):
                start_report(s, intent, text)
            return
        if intent == "greet":
            s.say(t("welcome", s.loc), menu_buttons(s.loc))
            return
        if intent == "help":
            s.say(t("help", s.loc), menu_buttons(s.loc))
            return
        if intent == "thanks":
            s.say(t("thanks", s.loc))
            return
        if intent == "rate":
            s.say(t("rate.nothing", s.loc))
            return
        if intent == "human_agent":
            request_callback(s)
            return
        if intent == "cancel":
            withdraw.offer(s, text)
            return
        if intent == "inform":
            if says_more(s, text):
                report_with_details(s, text)  # the address first, then the problem
            else:
                start_from_details(s)
            return
        if intent == "out_of_scope":
            s.say(t("out_of_scope", s.loc), menu_buttons(s.loc))
            return
        if intent in ("affirm", "deny"):
            s.say(t("welcome", s.loc), menu_buttons(s.loc))
            return
        if intent not in CONVERSATION_INTENTS:
            # an intent staff taught in the admin console without a flow of its own:
            # filed as "other"; the ticket keeps the intent (nlu_intent) for staff
            start_report(s, FALLBACK_FLOW, text)
            return
    unsure(s, text)


def on_followup_phone(s: Step, text: str) -> None:
    """After an urgent report without a phone: a phone joins the ticket; else read as idle."""
    phone = s.parse.first("phone") if s.parse else None
    if phone is not None and s.state.ticket:
        s.turn.actions.append(AddContactPhone(s.state.ticket, phone.value))
        s.reset()
        return
    s.reset()
    if not s.is_skip(text):
        on_text(s, text)
