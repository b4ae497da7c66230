"""Residents and notices (pure): questions about outages answered from the active notices
(of the building the message names, else of the home), a report that a notice already
explains held with [仍要报事], notices turned off and on."""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.types import SetNotices
from handlers.grid_notices import asks_about_notices, matching, problem_category
from handlers.i18n import t
from handlers.messages import Button

HELD_INTENT = "notice_intent"
HELD_TEXT = "notice_text"
OFF_WORDS = frozenset({"关闭通知", "退订通知", "不要通知", "不再接收通知", "notices off"})
ON_WORDS = frozenset({"开启通知", "订阅通知", "接收通知", "打开通知", "notices on"})


def on_words(s: Step, key: str, text: str) -> bool:
    """关闭通知 / 开启通知, or a question about notices; True when answered."""
    if key in OFF_WORDS or key in ON_WORDS:
        s.turn.actions.append(SetNotices(on=key in ON_WORDS))
        return True
    if not asks_about_notices(text):
        return False
    place = s.ctx.notice_place  # "5幢有没有停水通知": that building, not the home
    if not s.ctx.notices:
        if place:
            s.say(t("notice.none_at", s.loc, place=place), menu_buttons(s.loc))
        else:
            s.say(t("notice.none", s.loc), menu_buttons(s.loc))
        return True
    lines = "\n".join(f"· {n.line(s.loc, s.ctx.now)}" for n in s.ctx.notices[:5])
    if place:
        s.say(t("notice.list_at", s.loc, place=place, lines=lines))
    else:
        s.say(t("notice.list", s.loc, lines=lines))
    return True


def hold_report(s: Step, intent: str, text: str) -> bool:
    """ "停水了" while a 停水 notice is active: answer with it and offer [仍要报事]."""
    found = matching(s.ctx.notices, problem_category(text))
    if not found:
        return False
    s.reset()
    s.state.slots = {HELD_INTENT: intent, HELD_TEXT: text[: s.cfg.max_text]}
    lines = "\n".join(f"· {n.line(s.loc, s.ctx.now)}" for n in found[:3])
    s.say(
        t("notice.matched", s.loc, lines=lines),
        [
            Button(t("notice.button.report", s.loc), "notice:report"),
            Button(t("notice.button.ok", s.loc), "notice:ok"),
        ],
    )
    return True


def on_button(s: Step, choice: str) -> None:
    """notice:report files the held report after all; notice:ok drops it."""
    from handlers.dialogue.report import start_report  # report imports nothing of ours

    intent = s.state.slots.get(HELD_INTENT, "")
    text = s.state.slots.get(HELD_TEXT, "")
    if choice == "report" and intent in s.cfg.flows and text:
        s.reset()
        start_report(s, intent, text)
        return
    s.reset()
    if choice == "report":  # the held report expired: ask again
        s.say(t("ask.describe", s.loc), [Button(t("button.cancel", s.loc), "cancel")])
        return
    s.say(t("notice.ok", s.loc), menu_buttons(s.loc))
