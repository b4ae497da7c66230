"""The report being built: entities into slots, what to ask next, and filing it."""

from __future__ import annotations

import re

from handlers.address import BuildingRef, narrow_by_place, resolve_building
from handlers.dialogue.base import Step
from handlers.dialogue.prompts import ask, ask_which_building, confirm
from handlers.dialogue.types import CreateTicket, DialogueState, Stage
from handlers.flows import FALLBACK_FLOW
from handlers.i18n import t
from handlers.messages import Outbound


def absorb_entities(s: Step) -> None:
    """Fill whatever slots the message's entities answer, without overwriting answers."""
    if s.parse is None:
        return
    slots = s.state.slots
    building = s.parse.first("building")
    if building is not None and "building_id" not in slots:
        matches = resolve_building(building.value, s.ctx.buildings, community_id=s.ctx.community_id)
        if len(matches) > 1:
            # "阳光花园3幢" where every community has a 3幢: the community named wins
            matches = narrow_by_place(matches, s.msg.text) or matches
        if len(matches) == 1:
            set_building(s, matches[0])
        elif matches:
            slots["building_candidates"] = ",".join(str(b.id) for b in matches)
            slots["building_value"] = building.value
        else:
            slots["building_value"] = building.value
    for name in ("unit", "room", "phone", "plate"):
        entity = s.parse.first(name)
        if entity is not None and not slots.get(name):
            slots[name] = entity.value
    when = s.parse.first("time")
    if when is not None and "time" not in slots:
        slots["time"] = when.value


_DETAIL_TYPES = ("building", "unit", "room", "phone", "plate", "time", "community")
_FILLER = re.compile(
    r"[\s\d,，。.!！?？、:：;；~～\-#/()（）]|在|是|的|了|我|家|住|号|楼|幢|栋|单元|室"
)


def says_more(s: Step, text: str) -> bool:
    """The answer says more than the details asked for ("2号楼3单元 家里停水一整天了")."""
    if s.parse is None:
        return False
    rest = text
    for entity in sorted(s.parse.entities, key=lambda e: -e.start):
        if entity.type in _DETAIL_TYPES and 0 <= entity.start < entity.end <= len(rest):
            rest = rest[: entity.start] + rest[entity.end :]
    return len(_FILLER.sub("", rest)) >= 4


def keep_words(s: Step, text: str) -> None:
    """Add an answer that tells more about the problem to the description (all of it)."""
    if not says_more(s, text):
        return
    note = s.state.slots.get("description", "")
    words = text.strip()
    if words and words not in note:
        s.state.slots["description"] = (f"{note}；{words}" if note else words)[: s.cfg.max_text]


def set_building(s: Step, building: BuildingRef) -> None:
    """The report is about ``building`` (at home: the remembered unit and room come along)."""
    s.state.slots["building"] = str(building.id)
    s.state.slots["building_id"] = str(building.id)
    s.state.slots["building_name"] = building.display()
    s.state.slots.pop("building_candidates", None)
    s.state.slots.pop("building_value", None)
    if s.ctx.home is not None and building.id == s.ctx.home.id:
        if s.ctx.unit:
            s.state.slots.setdefault("unit", s.ctx.unit)
        if s.ctx.room:
            s.state.slots.setdefault("room", s.ctx.room)


def start_report(s: Step, intent: str, text: str) -> None:
    """Start filling the ``intent`` flow with ``text`` as its description."""
    keep = s.state.slots if s.state.stage == Stage.FILLING else {}
    s.turn.state = DialogueState(
        stage=Stage.FILLING,
        flow=intent,
        slots=dict(keep),
        worker_pending=s.state.worker_pending,
        urgent=s.state.urgent,
        nlu_intent=s.intent,
        nlu_confidence=s.confidence,
    )
    s.state.slots["description"] = text[: s.cfg.max_text]
    if s.parse is not None and s.parse.first("urgency") is not None:
        s.state.urgent = True
    absorb_entities(s)
    if s.state.urgent:
        advice = s.cfg.flows[intent].urgent_advice
        if advice:
            s.say(advice.get(s.loc) or advice["zh"])
    advance(s)


def start_from_details(s: Step) -> None:
    """'3幢2单元' with no problem stated: keep the details and ask what happened."""
    s.reset()
    s.state.stage = Stage.FILLING
    s.state.asking = "description"
    absorb_entities(s)
    building = s.state.slots.get("building_name", "")
    if building:
        s.say(t("ask.describe_at", s.loc, building=building))
    else:
        s.say(t("ask.describe", s.loc))


def next_slot(s: Step) -> str | None:
    """The next slot to ask for (a remembered phone fills itself), or None when done."""
    flow = s.flow()
    if flow is None:
        return "description"
    slots = s.state.slots
    for slot in flow.slots:
        name = slot.name
        filled = name in slots or (name == "building" and "building_id" in slots)
        if name == "photo":
            filled = "photo" in slots or bool(slots.get("photos"))
        if filled:
            continue
        if slot.required:
            return name
        if name == "phone" and s.ctx.phone:
            slots["phone"] = s.ctx.phone
            continue
        if not slot.ask or s.state.urgent:
            continue
        return name
    return None


def advance(s: Step) -> None:
    """Ask the next missing question, or confirm, or (urgent) file at once."""
    if "building_candidates" in s.state.slots and "building_id" not in s.state.slots:
        ask_which_building(s)
        return
    name = next_slot(s)
    if name is not None:
        ask(s, name)
        return
    if s.state.urgent:
        submit(s)
        return
    confirm(s)


def after_fill(s: Step) -> None:
    """A slot was answered: back to the confirmation when editing, else on to the next."""
    if s.state.editing:
        s.state.editing = False
        confirm(s)
        return
    advance(s)


def submit(s: Step) -> None:
    """File the report (``CreateTicket``); urgent without a phone: ask for one after filing."""
    flow = s.flow() or s.cfg.flows[FALLBACK_FLOW]
    slots = s.state.slots
    phone = slots.get("phone", "")
    extra = {k: slots[k] for k in ("plate", "time", "hazards", "hazard_cues") if slots.get(k)}
    lat, lon = slots.get("latitude"), slots.get("longitude")
    building_id = slots.get("building_id", "")
    action = CreateTicket(
        intent=flow.intent,
        category=flow.category,
        priority="urgent" if s.state.urgent else flow.priority,
        description=slots.get("description", ""),
        building_id=int(building_id) if building_id.isdigit() else None,
        building_name=slots.get("building_name", ""),
        unit=slots.get("unit", ""),
        room=slots.get("room", ""),
        location_note=slots.get("location_note", ""),
        phone=phone,
        photos=tuple(int(p) for p in slots.get("photos", "").split(",") if p.isdigit()),
        extra=extra,
        latitude=float(lat) if lat else None,
        longitude=float(lon) if lon else None,
        nlu_intent=s.state.nlu_intent,
        nlu_confidence=s.state.nlu_confidence,
        followup_phone=s.state.urgent and not phone,
    )
    s.turn.actions.append(action)
    s.reset()
    if action.followup_phone:
        # the ticket number is only known after filing: the service fills it in
        s.state.stage = Stage.FOLLOWUP_PHONE
        s.turn.after.append(
            Outbound(
                text=t("urgent.followup_phone", s.loc),
                data={"ask": "phone", "locale": s.loc},
            )
        )
