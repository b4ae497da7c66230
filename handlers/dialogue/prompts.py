"""The questions the dialogue asks, and asking the pending one again after an interruption."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.address import BuildingRef
from handlers.dialogue.base import Step
from handlers.dialogue.replies import duplicate_offer, location_text, menu_buttons
from handlers.dialogue.types import Stage
from handlers.dialogue.words import mask_phone
from handlers.flows import FALLBACK_FLOW
from handlers.i18n import t
from handlers.messages import Button


def ask(s: Step, name: str) -> None:
    """Ask for slot ``name`` (with 跳过 when it is optional, and 取消)."""
    s.state.asking = name
    flow = s.flow()
    slot = flow.slot(name) if flow else None
    key = slot.prompt_key if slot else f"ask.{name}"
    buttons: list[Button] = []
    if slot is not None and not slot.required:
        buttons.append(Button(t("button.skip", s.loc), "skip"))
    buttons.append(Button(t("button.cancel", s.loc), "cancel"))
    s.say(t(key, s.loc), buttons, ask=name)


# more matches than this are not offered as buttons (a city has a "3幢" in every community):
# the resident is asked for the community (or the street) instead
MAX_CHOICES = 10


def building_candidates(s: Step) -> list[BuildingRef]:
    """The buildings the pending "which one?" question offers, in registry order."""
    index = s.ctx.index
    ids = [int(i) for i in s.state.slots.get("building_candidates", "").split(",") if i]
    found = [b for b in (index.by_id(i) for i in ids) if b is not None]
    return sorted(found, key=lambda b: index.position(b.id))


def building_buttons(options: Sequence[BuildingRef]) -> list[Button]:
    """One button per candidate building; none when there are too many to read."""
    if len(options) > MAX_CHOICES:
        return []
    return [Button(b.display(), f"building:{b.id}") for b in options]


def ask_which_building(s: Step) -> None:
    """Several buildings match what the resident wrote: offer them as buttons, or when many
    communities have one, ask which community (or street) it is."""
    options = building_candidates(s)
    value = s.state.slots.get("building_value", "")
    s.state.asking = "building"
    if len(options) <= MAX_CHOICES:
        s.say(t("ask.building.which", s.loc, value=value), building_buttons(options))
        return
    communities = list(dict.fromkeys(b.community for b in options if b.community))
    streets = {b.street for b in options}
    if len(streets) == 1 and "" not in streets and len(communities) <= 30:
        names = "、".join(communities)
        street = next(iter(streets))
        s.say(
            t("ask.building.street", s.loc, street=street, value=value, names=names),
            ask="building",
        )
        return
    example = f"{communities[0]}{value}" if communities else value
    s.say(
        t("ask.building.community", s.loc, count=len(communities), value=value, example=example),
        ask="building",
    )


def summary_location(s: Step) -> str:
    """The report's place as the confirmation shows it."""
    slots = s.state.slots
    return location_text(
        slots.get("building_name", ""),
        slots.get("unit", ""),
        slots.get("room", ""),
        slots.get("location_note", ""),
        s.loc,
    )


def confirm(s: Step) -> None:
    """Show the report for confirmation (提交 / 修改 / 取消); the stage becomes confirming."""
    slots = s.state.slots
    s.state.stage = Stage.CONFIRMING
    s.state.asking = None
    extra = ""
    if slots.get("plate"):
        extra += t("confirm.plate", s.loc, plate=slots["plate"])
    photos = [p for p in slots.get("photos", "").split(",") if p]
    if photos:
        extra += t("confirm.photos", s.loc, count=len(photos))
    phone = slots.get("phone", "")
    text = t(
        "confirm",
        s.loc,
        category=s.label(s.state.flow or FALLBACK_FLOW),
        urgent=t("confirm.urgent", s.loc) if s.state.urgent else "",
        location=summary_location(s),
        description=slots.get("description", ""),
        extra=extra,
        phone=mask_phone(phone) if phone else t("confirm.no_phone", s.loc),
    )
    s.say(
        text,
        [
            Button(t("button.submit", s.loc), "confirm"),
            Button(t("button.edit", s.loc), "edit"),
            Button(t("button.cancel", s.loc), "cancel"),
        ],
    )


def show_edit_menu(s: Step) -> None:
    """Ask which part of the report to change; the stage becomes editing."""
    s.state.stage = Stage.EDITING
    s.say(
        t("edit.which", s.loc),
        [
            Button(t("edit.building", s.loc), "edit:building"),
            Button(t("edit.description", s.loc), "edit:description"),
            Button(t("edit.phone", s.loc), "edit:phone"),
            Button(t("button.cancel", s.loc), "cancel"),
        ],
    )


def say_duplicate_offer(s: Step) -> None:
    """Ask again whether to follow (or add to) the open ticket, or report anyway."""
    message = duplicate_offer(
        s.state.ticket or "",
        s.state.slots.get("dup_status", ""),
        bool(s.state.slots.get("dup_own")),
        s.loc,
    )
    s.turn.replies.append(message)


def ask_supplement(s: Step) -> None:
    """Ask for the supplement's content, or which open ticket it belongs to."""
    if s.state.ticket:
        s.say(
            t("supplement.ask", s.loc, number=s.state.ticket),
            [Button(t("button.cancel", s.loc), "cancel")],
        )
        return
    buttons = [
        Button(t("supplement.button", s.loc, number=tk.number), f"supplement:{tk.number}")
        for tk in s.ctx.open_tickets[:3]
    ]
    photos = bool(s.state.slots.get("photos"))
    if photos:
        buttons.append(Button(t("button.new_report", s.loc), "newreport"))
    buttons.append(Button(t("button.cancel", s.loc), "cancel"))
    key = "supplement.photo_choice" if photos else "supplement.choose"
    s.say(t(key, s.loc), buttons)


def reprompt(s: Step) -> None:
    """Repeat the pending question after an interruption (status, help …)."""
    stage = s.state.stage
    if stage == Stage.FILLING and s.state.asking:
        s.say(t("status.resume", s.loc))
        ask(s, s.state.asking)
    elif stage == Stage.CONFIRMING:
        confirm(s)
    elif stage == Stage.CLARIFYING:
        buttons = [Button(s.label(c), f"flow:{c}") for c in s.state.candidates]
        buttons.append(Button(t("clarify.other", s.loc), f"flow:{FALLBACK_FLOW}"))
        s.say(t("clarify", s.loc), buttons)
    elif stage == Stage.EDITING:
        show_edit_menu(s)
    elif stage == Stage.DUPLICATE and s.state.ticket:
        say_duplicate_offer(s)
    elif stage == Stage.SUPPLEMENT:
        ask_supplement(s)


def reprompt_or_menu(s: Step) -> None:
    """Repeat the pending question, or (idle) greet with the menu."""
    if s.state.stage == Stage.IDLE:
        s.say(t("welcome", s.loc), menu_buttons(s.loc))
    else:
        reprompt(s)
