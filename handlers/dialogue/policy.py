"""The resident dialogue policy: ``step``, the pure entry point, dispatching on the stage.

Buttons, photos, locations and shared contacts are read here; typed text goes through the
interruptions every stage honours (取消, 进度, 帮助) and then to the stage's own handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from handlers.address import nearest_building
from handlers.dialogue import (
    clarifying,
    confirming,
    danger,
    duplicate,
    editing,
    filling,
    followups,
    idle,
    notices,
    supplement,
    withdraw,
)
from handlers.dialogue.base import Step
from handlers.dialogue.prompts import confirm, reprompt
from handlers.dialogue.replies import menu_buttons
from handlers.dialogue.report import absorb_entities, advance, set_building
from handlers.dialogue.types import (
    AddContactPhone,
    DialogueConfig,
    DialogueState,
    HandToStaff,
    ResidentContext,
    Stage,
    Turn,
)
from handlers.dialogue.words import (
    CANCEL_WORDS,
    HELP_WORDS,
    STATUS_WORDS,
    TICKET_NUMBER,
    UNNUMBERED,
    asks_for_human,
    ticket_numbers,
    word_key,
)
from handlers.i18n import t
from handlers.messages import Button, Inbound, MediaKind
from nlu.pii import phone_digits
from nlu.types import Parse


def step(
    state: DialogueState,
    msg: Inbound,
    parse: Parse | None,
    ctx: ResidentContext,
    cfg: DialogueConfig,
) -> Turn:
    """Advance a resident's conversation by one message.

    Pure: no I/O, no clock (``ctx.now``), no randomness. The service loads ``state`` and
    ``ctx`` inside the conversation lock, runs the returned actions in one transaction and
    saves ``turn.state``.

    Args:
        state: the conversation state before the message.
        msg: the message (text, button, photos, location).
        parse: the NLU parse of ``msg.text`` (None for buttons and media without text).
        ctx: the resident, the registry's buildings and their tickets.
        cfg: the flows and thresholds.

    Returns:
        The new state, replies to send now, actions to run, and replies to send after them.
    """
    s = Step(state, msg, parse, ctx, cfg)
    if s.state.stage != Stage.IDLE and _expired(s):
        s.reset()
        s.say(t("expired", s.loc))
    text = msg.text.strip()
    button = msg.button
    # text channels show buttons as a numbered list: "2" means the second button. Skip and
    # cancel are not numbered (they have words): "2" is a real answer to "which unit?"
    choices = [p for p in s.state.offered if p not in UNNUMBERED]
    if button is None and re.fullmatch(r"\d{1,2}", text) and 1 <= int(text) <= len(choices):
        button = choices[int(text) - 1]
    s.state.offered = []
    if button is not None:
        on_button(s, button)
    elif msg.media:
        on_media(s)
    elif msg.location is not None:
        on_location(s)
    elif msg.contact_phone:
        on_phone_shared(s, msg.contact_phone)
    elif not text and _awaiting_description_at(s):
        # a stairwell QR code (scene) named the building: ask what happened there
        building = s.state.slots["building_name"]
        cancel_button = Button(t("button.cancel", s.loc), "cancel")
        s.say(t("ask.describe_at", s.loc, building=building), [cancel_button])
    elif not text:
        s.say(t("empty_message", s.loc))
        reprompt(s)
    else:
        on_text(s, text)
    typed = button is None and not msg.media and msg.location is None and not msg.contact_phone
    _count_stuck(s, typed and bool(text))
    _finish(s)
    return s.turn


def _count_stuck(s: Step, typed: bool) -> None:
    """Typed messages in a row the bot could not help with (not understood, out of scope, or
    asked back which kind of problem); at the limit a person takes over (the staff inbox,
    reason 机器人无法处理) instead of a third "没听懂"."""
    dead_ends = {t("not_understood", s.loc), t("out_of_scope", s.loc)}
    unhelpful = (
        typed
        and not s.turn.actions
        and (
            any(r.text in dead_ends for r in s.turn.replies)
            or s.state.stage == Stage.CLARIFYING  # asked back which kind of problem (again)
        )
    )
    if not unhelpful:
        s.state.stuck = 0
        return
    s.state.stuck += 1
    if s.state.stuck < s.cfg.stuck_handoff_after:
        return
    slots = s.state.slots
    told = [slots.get("description", ""), slots.get("building_name", ""), s.msg.text.strip()]
    note = "；".join(dict.fromkeys(part for part in told if part))
    building = slots.get("building_id", "")
    home = s.ctx.home.id if s.ctx.home else None
    s.reset()  # the form is dropped: a person reads what was told so far
    s.turn.replies.clear()
    s.say(t("handoff.stuck", s.loc))
    s.turn.actions.append(
        HandToStaff(note=note[:500], building_id=int(building) if building.isdigit() else home)
    )


def _awaiting_description_at(s: Step) -> bool:
    state = s.state
    return (
        state.stage == Stage.FILLING
        and state.asking == "description"
        and bool(state.slots.get("building_name"))
        and "description" not in state.slots
    )


def _expired(s: Step) -> bool:
    if not s.state.updated_at:
        return False
    try:
        last = datetime.fromisoformat(s.state.updated_at)
    except ValueError:
        return True
    return s.ctx.now - last > timedelta(seconds=s.cfg.ttl_seconds)


def _finish(s: Step) -> None:
    # the last buttons shown are what a bare "2" picks next time
    last_with_buttons = [r for r in (*s.turn.replies, *s.turn.after) if r.buttons]
    if last_with_buttons:
        s.state.offered = [b.payload for b in last_with_buttons[-1].buttons]
    s.state.updated_at = s.ctx.now.isoformat()


# --- buttons ----------------------------------------------------------------------------------


def on_button(s: Step, payload: str) -> None:
    """A button's payload (``head:rest``), from any stage."""
    head, _, rest = payload.partition(":")
    if head == "report":
        s.reset()
        s.state.stage = Stage.FILLING
        s.state.asking = "description"
        s.say(t("ask.describe", s.loc), [Button(t("button.cancel", s.loc), "cancel")])
    elif head == "status":
        followups.show_status(s)
        reprompt(s)
    elif head == "help":
        s.say(t("help", s.loc), menu_buttons(s.loc))
        reprompt(s)
    elif head == "cancel":
        cancel(s)
    elif head == "skip":
        filling.on_skip(s)
    elif head == "confirm":
        confirming.on_confirm_button(s)
    elif head == "edit":
        editing.on_edit(s, rest)
    elif head == "flow" and rest in s.cfg.flows:
        clarifying.choose_flow(s, rest)
    elif head == "building" and rest.isdigit():
        filling.choose_building(s, int(rest))
    elif head == "rate":
        number, _, score = rest.partition(":")
        if score.isdigit() and 1 <= int(score) <= 5:
            followups.rate(s, number, int(score))
        else:
            s.say(t("not_understood", s.loc))
    elif head == "dup":
        duplicate.on_choice(s, rest)
    elif head == "supplement" and TICKET_NUMBER.fullmatch(rest):
        supplement.on_button(s, rest.upper())
    elif head == "newreport":
        _on_new_report_button(s)
    elif head == "notice":
        notices.on_button(s, rest)
    elif head in ("withdraw", "withdraw_yes", "withdraw_no"):
        withdraw.on_button(s, head, rest)
    else:
        # stale or forged payload: answer politely, change nothing
        s.say(t("not_understood", s.loc), menu_buttons(s.loc))


def _on_new_report_button(s: Step) -> None:
    """'新报事' after a photo: the photo starts a new report, as it would with no tickets."""
    text, photos = supplement.pending_content(s)
    if s.state.stage != Stage.SUPPLEMENT or not photos:
        on_button(s, "report")
        return
    s.reset()
    s.state.slots["photo"] = "yes"
    s.state.slots["photos"] = ",".join(map(str, photos))
    _report_from_photo(s, text)


def cancel(s: Step, text: str = "") -> None:
    """取消: drop whatever is open; with nothing open, offer to withdraw a report (撤销)."""
    if s.state.stage in (Stage.IDLE, Stage.FOLLOWUP_PHONE):
        withdraw.offer(s, text)
        return
    s.reset()
    s.say(t("cancelled", s.loc), menu_buttons(s.loc))


# --- photos, locations, shared contacts -------------------------------------------------------


def photo_ids(s: Step) -> list[int]:
    """The attachment ids of the message's photos."""
    ids: list[int] = []
    for media in s.msg.media:
        if media.kind == MediaKind.IMAGE and media.ref.startswith("attachment:"):
            ref = media.ref.removeprefix("attachment:")
            if ref.isdigit():
                ids.append(int(ref))
    return ids


def on_media(s: Step) -> None:
    """Photos: for the report being filled, for an open ticket, or the start of a report."""
    photos = photo_ids(s)
    if not photos:
        s.say(t("unsupported_media", s.loc))
        reprompt(s)
        return
    caption = s.msg.text.strip()
    dangerous = bool(caption) and danger.is_danger(s.parse)
    if not dangerous and (
        s.state.stage == Stage.SUPPLEMENT or (s.state.stage == Stage.IDLE and s.ctx.open_tickets)
    ):
        supplement.on_media(s, photos)
        return
    existing = [p for p in s.state.slots.get("photos", "").split(",") if p]
    s.state.slots["photos"] = ",".join([*existing, *map(str, photos)])
    if dangerous:
        # a photo of a danger: filed urgent at once, the photo with it
        s.state.slots["photo"] = "yes"
        danger.on_danger(s, caption)
        return
    if s.state.stage in (Stage.FILLING, Stage.CONFIRMING, Stage.EDITING):
        if s.state.asking == "photo":
            s.state.slots.setdefault("photo", "yes")
            s.state.asking = None
        s.say(t("photo_added", s.loc))
        if caption:
            on_text(s, caption)
            return
        if s.state.stage == Stage.CONFIRMING:
            confirm(s)
        else:
            advance(s)
        return
    # a photo out of the blue starts a report; the caption (if any) describes it
    _report_from_photo(s, caption)


def _report_from_photo(s: Step, caption: str) -> None:
    """A report starts with the photos already in the slots; the caption describes it."""
    s.state.stage = Stage.FILLING
    s.state.slots["photo"] = "yes"
    s.state.asking = "description"
    if caption:
        on_text(s, caption)
        return
    s.say(t("photo_received_ask", s.loc))


def on_location(s: Step) -> None:
    """A shared location: the nearest registered building (within the radius) is the place."""
    point = s.msg.location
    if point is None:
        return
    s.state.slots["latitude"] = f"{point.latitude:.6f}"
    s.state.slots["longitude"] = f"{point.longitude:.6f}"
    near = nearest_building(
        point.latitude, point.longitude, s.ctx.buildings, max_metres=s.cfg.location_radius_m
    )
    if point.label:
        s.state.slots.setdefault("location_note", point.label[:100])
    if s.state.stage == Stage.FILLING:
        if near is not None and "building" not in s.state.slots:
            set_building(s, near)
        advance(s)
        return
    s.state.stage = Stage.FILLING
    s.state.asking = "description"
    if near is not None:
        set_building(s, near)
        s.say(t("location_received_ask", s.loc, building=near.display()))
    else:
        s.say(t("location_unknown", s.loc), ask="building")


def on_phone_shared(s: Step, phone: str) -> None:
    """A phone shared with a native control (Telegram contact): it answers the phone question."""
    digits = phone_digits(phone)
    if s.state.stage == Stage.FOLLOWUP_PHONE and s.state.ticket:
        s.turn.actions.append(AddContactPhone(s.state.ticket, digits))
        s.reset()
        return
    if s.state.stage == Stage.CALLBACK_PHONE:
        followups.callback(s, digits)
        return
    if s.state.stage in (Stage.FILLING, Stage.CONFIRMING):
        s.state.slots["phone"] = digits
        if s.state.asking == "phone":
            s.state.asking = None
        if s.state.stage == Stage.CONFIRMING:
            confirm(s)
        else:
            advance(s)
        return
    s.say(t("welcome", s.loc), menu_buttons(s.loc))


# --- text -------------------------------------------------------------------------------------


def _supplement_or_idle(s: Step, text: str) -> None:
    if not supplement.on_text(s, text):
        idle.on_text(s, text)


# every stage's handler of typed text
TEXT_STAGES: Mapping[Stage, Callable[[Step, str], None]] = {
    Stage.IDLE: idle.on_text,
    Stage.FILLING: filling.on_text,
    Stage.CONFIRMING: confirming.on_text,
    Stage.CLARIFYING: clarifying.on_text,
    Stage.EDITING: editing.on_text,
    Stage.FOLLOWUP_PHONE: idle.on_followup_phone,
    Stage.CALLBACK_PHONE: followups.on_callback_phone,
    Stage.DUPLICATE: duplicate.on_text,
    Stage.SUPPLEMENT: _supplement_or_idle,
}


def on_text(s: Step, text: str) -> None:
    """Typed text: 取消, 进度 and 帮助 in any stage (the form resumes), else the stage's handler."""
    key = word_key(text)
    # interruptions, answered in any stage
    if key in CANCEL_WORDS or s.confident("cancel") or withdraw.asks(text):
        cancel(s, text)
        return
    if danger.is_danger(s.parse):
        # danger first: advice and an urgent ticket at once, whatever was being asked
        danger.on_danger(s, text)
        return
    choosing = s.state.stage == Stage.SUPPLEMENT  # there a ticket number is a choice
    asks_status = bool(ticket_numbers(text)) and s.intent == "query_status" and not choosing
    if s.state.stage != Stage.IDLE and (key in STATUS_WORDS or asks_status):
        followups.show_status(s, text)
        reprompt(s)
        return
    if s.state.stage != Stage.IDLE and (asks_for_human(text) or s.confident("human_agent")):
        # 转人工 inside a form: a person calls back about what was told so far
        if s.state.stage in (Stage.FILLING, Stage.CONFIRMING, Stage.CLARIFYING):
            absorb_entities(s)
        followups.request_callback(s)
        return
    if s.state.stage != Stage.IDLE and (key in HELP_WORDS or s.confident("help")):
        s.say(t("help", s.loc))
        reprompt(s)
        return
    TEXT_STAGES[s.state.stage](s, text)
