"""Editing: from the confirmation, the resident changes the place, the description or the phone."""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.prompts import ask, reprompt_or_menu, show_edit_menu
from handlers.dialogue.types import Stage
from handlers.dialogue.words import word_key

# typed names of the parts a resident can change
_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("building", ("地点", "楼栋", "地址", "place", "building")),
    ("description", ("描述", "问题", "问题描述", "description")),
    ("phone", ("电话", "手机", "联系电话", "phone")),
)


def on_edit(s: Step, field_name: str) -> None:
    """修改 (``edit`` / ``edit:<field>``): ask that field again, or which one to change."""
    if s.state.stage not in (Stage.CONFIRMING, Stage.EDITING):
        reprompt_or_menu(s)
        return
    if field_name in ("building", "description", "phone"):
        s.state.stage = Stage.FILLING
        s.state.editing = True
        if field_name == "building":
            for key in ("building", "building_id", "building_name", "unit", "room"):
                s.state.slots.pop(key, None)
        else:
            s.state.slots.pop(field_name, None)
        ask(s, field_name)
        return
    show_edit_menu(s)


def on_text(s: Step, text: str) -> None:
    """A typed answer to "what to change?"."""
    key = word_key(text)
    for field_name, words in _FIELDS:
        if key in words:
            on_edit(s, field_name)
            return
    on_edit(s, "")
