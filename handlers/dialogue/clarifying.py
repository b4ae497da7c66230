"""Clarifying: the message sounded like a report, but of which kind? Offer the likely ones."""

from __future__ import annotations

import re

from handlers.dialogue.base import Step
from handlers.dialogue.prompts import reprompt
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.report import (
    absorb_entities,
    advance,
    keep_words,
    says_more,
    start_from_details,
    start_report,
)
from handlers.dialogue.types import Stage
from handlers.dialogue.words import word_key
from handlers.flows import CONVERSATION_INTENTS, FALLBACK_FLOW
from handlers.i18n import t
from handlers.messages import Button

_CJK = re.compile(r"[\u4e00-\u9fff]")
LETTER_CHARS = 10
"""Chinese characters from which an unsure message is asked back rather than turned away."""


SPECIFIC_CHOICES = 3
"""Specific categories offered when asking back; 其他问题 comes beside them (or 都不是)."""


def choices(s: Step) -> list[str]:
    """The report categories to offer, best first: the three likeliest specific ones and
    其他问题 where it ranks among them — four buttons either way, with 都不是 otherwise."""
    ranking = s.parse.ranking if s.parse else ()
    picked: list[str] = []
    specific = 0
    for r in ranking:
        if r.name not in s.cfg.flows or specific >= SPECIFIC_CHOICES:
            continue
        picked.append(r.name)
        specific += r.name != FALLBACK_FLOW
    return picked


def unsure(s: Step, text: str) -> None:
    """Two-stage fallback: offer the likely report categories, or say we didn't get it."""
    ranking = s.parse.ranking if s.parse else ()
    candidates = choices(s)
    top = ranking[0].name if ranking else ""
    report_like = top in s.cfg.flows or (top not in CONVERSATION_INTENTS and bool(candidates))
    if top == "inform" and says_more(s, text):
        report_with_details(s, text)  # the address first, then the problem
        return
    if s.intent == "out_of_scope" or not candidates or not report_like:
        if candidates and len(_CJK.findall(text)) >= LETTER_CHARS:
            # a letter or a long message the classifier is unsure of is not turned away:
            # asked back with its words kept (还是"都不是" files it for community staff)
            clarify(s, text, candidates)
            return
        if s.parse is not None and s.parse.first("building") is not None:
            start_from_details(s)
            return
        s.say(t("not_understood", s.loc), menu_buttons(s.loc))
        return
    clarify(s, text, candidates)


def report_with_details(s: Step, text: str) -> None:
    """'3号楼2单元501门口有辆车堵住了消防通道': details first, then the problem.

    The classifier's ``inform`` share is the details; the problem is the best report reading
    among the rest: filed under it when that share is confident, else asked back.
    """
    ranking = s.parse.ranking if s.parse else ()
    details = next((r.confidence for r in ranking if r.name == "inform"), 0.0)
    reports = [r for r in ranking if r.name in s.cfg.flows]
    if not reports:
        start_report(s, FALLBACK_FLOW, text)
        return
    best = reports[0]
    share = min(1.0, best.confidence / (1.0 - details)) if details < 1.0 else best.confidence
    if share >= s.cfg.clarify_threshold:
        start_report(s, best.name, text)
        s.state.nlu_intent, s.state.nlu_confidence = best.name, share
        return
    clarify(s, text, choices(s))


def clarify(s: Step, text: str, candidates: list[str]) -> None:
    """Ask which kind of problem, keeping the resident's words as the description."""
    s.state.stage = Stage.CLARIFYING
    s.state.candidates = candidates
    s.state.slots["description"] = text[: s.cfg.max_text]
    absorb_entities(s)
    s.state.nlu_intent, s.state.nlu_confidence = s.intent, s.confidence
    buttons = [Button(s.label(c), f"flow:{c}") for c in candidates]
    if FALLBACK_FLOW not in candidates:
        buttons.append(Button(t("clarify.other", s.loc), f"flow:{FALLBACK_FLOW}"))
    s.say(t("clarify", s.loc), buttons)


def on_text(s: Step, text: str) -> None:
    """A typed answer to "which kind of problem?": a confident report intent or a label."""
    for candidate in s.state.candidates:
        if word_key(text) == word_key(s.label(candidate)):
            choose_flow(s, candidate)
            return
    # more about the problem: its words join the description (all of them)
    keep_words(s, text)
    absorb_entities(s)
    if s.intent in s.cfg.flows and s.confidence >= s.cfg.clarify_threshold:
        choose_flow(s, s.intent)
        return
    reprompt(s)


def choose_flow(s: Step, intent: str) -> None:
    """The resident picked a category (``flow:…`` button): fill that flow."""
    if s.state.stage not in (Stage.CLARIFYING, Stage.FILLING):
        s.say(t("not_understood", s.loc), menu_buttons(s.loc))
        return
    s.state.stage = Stage.FILLING
    s.state.flow = intent
    s.state.candidates = []
    s.state.asking = None
    if s.state.urgent:
        advice = s.cfg.flows[intent].urgent_advice
        if advice:
            s.say(advice.get(s.loc) or advice["zh"])
    advance(s)
