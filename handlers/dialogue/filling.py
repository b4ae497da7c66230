"""Filling: the resident answers the flow's questions one by one (building, unit, phone …)."""

from __future__ import annotations

import re

from handlers.address import narrow_by_place, resolve_building
from handlers.dialogue.base import Step
from handlers.dialogue.clarifying import unsure
from handlers.dialogue.prompts import (
    ask_which_building,
    building_candidates,
    reprompt,
    reprompt_or_menu,
)
from handlers.dialogue.report import (
    absorb_entities,
    after_fill,
    keep_words,
    set_building,
    start_report,
)
from handlers.dialogue.types import Stage
from handlers.flows import FALLBACK_FLOW
from handlers.i18n import t
from handlers.messages import Button


def on_text(s: Step, text: str) -> None:
    """A typed answer to the pending question (``state.asking``)."""
    asking = s.state.asking
    if asking == "description" and s.state.flow is None:
        describe_new_report(s, text)
        return
    if asking == "description":
        s.state.slots["description"] = text[: s.cfg.max_text]
        absorb_entities(s)
    elif asking == "building":
        answer_building(s, text)
        return
    elif asking in ("unit", "room", "plate"):
        answer_simple(s, asking, text)
    elif asking == "phone":
        answer_phone(s, text)
        return
    elif asking == "photo":
        if not s.is_skip(text):
            note = s.state.slots.get("description", "")
            s.state.slots["description"] = f"{note}；{text}"[: s.cfg.max_text]
        s.state.slots["photo"] = ""
        absorb_entities(s)
    else:
        absorb_entities(s)
    s.state.asking = None
    after_fill(s)


def describe_new_report(s: Step, text: str) -> None:
    """The resident was asked to describe a problem: classify it among report intents."""
    ranking = s.parse.ranking if s.parse else ()
    reports = [r for r in ranking if r.name in s.cfg.flows]
    if reports and reports[0].confidence >= s.cfg.clarify_threshold * 0.8:
        start_report(s, reports[0].name, text)
        return
    keep = dict(s.state.slots)
    s.reset()
    s.state.slots.update(keep)
    unsure(s, text)
    if s.state.stage != Stage.CLARIFYING:
        # nothing report-like at all: still a report, the residents' words matter
        s.turn.replies.clear()
        start_report(s, FALLBACK_FLOW, text)


def answer_building(s: Step, text: str) -> None:
    """Which building: one match is taken, several are offered, none is asked again."""
    slots = s.state.slots
    pending = building_candidates(s) if "building_candidates" in slots else []
    absorb_entities(s)
    keep_words(s, text)
    if pending and "building_id" not in slots:
        # "阳光花园" / "东湖街道" in answer to "which community?": keep the ones there
        narrowed = narrow_by_place(pending, text)
        if len(narrowed) == 1:
            set_building(s, narrowed[0])
        elif narrowed:
            slots["building_candidates"] = ",".join(str(b.id) for b in narrowed)
    if "building_id" not in slots and "building_candidates" not in slots:
        matches = resolve_building(text, s.ctx.buildings, community_id=s.ctx.community_id)
        if len(matches) == 1:
            set_building(s, matches[0])
        elif matches:
            slots["building_candidates"] = ",".join(str(b.id) for b in matches)
            slots["building_value"] = text
    if "building_id" in slots:
        s.state.asking = None
        s.state.retries = 0
        after_fill(s)
        return
    if "building_candidates" in slots:
        ask_which_building(s)
        return
    s.state.retries += 1
    if s.state.retries > s.cfg.max_retries:
        # never trap a resident: route on their own words, staff will place it
        slots["building"] = ""
        slots["location_note"] = text[:100]
        s.state.asking = None
        s.state.retries = 0
        after_fill(s)
        return
    names = building_names(s)
    value = slots.pop("building_value", "")
    if value:
        s.say(t("ask.building.unknown", s.loc, value=value, names=names), ask="building")
    else:
        example = s.ctx.buildings[0].name if s.ctx.buildings else "3幢"
        s.say(t("ask.building.retry", s.loc, names=names, example=example), ask="building")


def building_names(s: Step) -> str:
    """The resident's community's buildings, for "which one?" (at most 20)."""
    pool = s.ctx.index.in_community(s.ctx.community_id)
    names = [b.name for b in pool[:20]]
    more = "…" if len(pool) > 20 else ""
    return "、".join(names) + more if names else "-"


def choose_building(s: Step, building_id: int) -> None:
    """A ``building:…`` button: the resident picked one of the offered buildings."""
    match = s.ctx.index.by_id(building_id)
    if match is None or s.state.stage not in (Stage.FILLING, Stage.CONFIRMING):
        s.say(t("not_understood", s.loc))
        reprompt(s)
        return
    set_building(s, match)
    if s.state.asking == "building":
        s.state.asking = None
    after_fill(s)


def answer_simple(s: Step, name: str, text: str) -> None:
    """Unit, room or plate: an entity if the NLU found one, else the words themselves."""
    slots = s.state.slots
    absorb_entities(s)
    keep_words(s, text)
    if slots.get(name):
        return
    if s.is_skip(text):
        slots[name] = ""
        return
    value = re.sub(r"\s+", "", text.strip())
    if name in ("unit", "room"):
        value = re.sub(r"(单元|室|号|房)$", "", value)
    if not _VALUE[name].fullmatch(value):
        # not a unit, room or plate (more about the problem, or a word we don't know):
        # never stored as one; the question counts as answered with nothing
        slots[name] = ""
        return
    slots[name] = value[:20].upper() if name == "plate" else value[:20]


# what a typed unit, room or plate may look like (after "单元/室/号" is dropped)
_VALUE = {
    "unit": re.compile(r"[0-9A-Za-z一二三四五六七八九十两]{1,4}"),
    "room": re.compile(r"[0-9A-Za-z\-一二三四五六七八九十零〇两]{1,8}"),
    "plate": re.compile(r"(?=.*\d)[\u4e00-\u9fffA-Za-z][A-Za-z0-9·\u4e00-\u9fff]{4,9}"),
}


def answer_phone(s: Step, text: str) -> None:
    """The phone: the NLU's phone entity, a skip, or (after retries) none."""
    slots = s.state.slots
    absorb_entities(s)
    if slots.get("phone"):
        s.state.asking = None
        s.state.retries = 0
        after_fill(s)
        return
    if s.is_skip(text):
        slots["phone"] = ""
        s.state.asking = None
        after_fill(s)
        return
    s.state.retries += 1
    if s.state.retries > s.cfg.max_retries:
        slots["phone"] = ""
        s.state.asking = None
        s.state.retries = 0
        after_fill(s)
        return
    s.say(t("ask.phone.retry", s.loc), [Button(t("button.skip", s.loc), "skip")], ask="phone")


def on_skip(s: Step) -> None:
    """The 跳过 button: an optional question is answered with nothing."""
    asking = s.state.asking
    if s.state.stage != Stage.FILLING or asking is None:
        reprompt_or_menu(s)
        return
    flow = s.flow()
    slot = flow.slot(asking) if flow else None
    if slot is not None and slot.required and asking != "description":
        reprompt(s)
        return
    s.state.slots[asking] = ""
    s.state.asking = None
    after_fill(s)
