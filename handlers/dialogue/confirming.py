"""Confirming: the resident reads the summary and submits, edits or corrects it."""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.editing import on_edit
from handlers.dialogue.prompts import confirm, reprompt_or_menu
from handlers.dialogue.report import absorb_entities, submit
from handlers.dialogue.types import Stage
from handlers.dialogue.words import word_key
from handlers.i18n import t

_SUBMIT_WORDS = frozenset({"确认", "提交", "确认提交", "是", "对", "好"})
_EDIT_WORDS = frozenset({"修改", "改", "不对"})


def on_confirm_button(s: Step) -> None:
    """确认提交 (``confirm``): file the report, if there is one to confirm."""
    if s.state.stage == Stage.CONFIRMING:
        submit(s)
    else:
        reprompt_or_menu(s)


def on_text(s: Step, text: str) -> None:
    """Yes files it, no asks what to change, new details update it; anything else asks again."""
    if s.confident("affirm") or word_key(text) in _SUBMIT_WORDS:
        submit(s)
        return
    if s.confident("deny") or word_key(text) in _EDIT_WORDS:
        on_edit(s, "")
        return
    before = dict(s.state.slots)
    absorb_entities(s)
    if s.state.slots != before:
        confirm(s)
        return
    s.say(t("confirm.again", s.loc))
    confirm(s)
