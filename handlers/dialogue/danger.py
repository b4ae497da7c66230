"""Danger first: a message that reports a danger happening now is filed as urgent at once.

Whatever the stage (idle, inside a form, a photo's caption, the answer to "which kind of
problem?"), a parse with hazards (:attr:`nlu.types.Parse.hazards`) skips every question: the
resident gets the advice each hazard calls for (96333 / 119 / 110 / 120 / the gas company / cut
the power; several when several apply), the ticket is filed as urgent with what is known, and
the grid worker's task card says why it is urgent. The phone (when not remembered) is asked
after filing. Negated, past and hypothetical mentions carry no hazards and never come here.
"""

from __future__ import annotations

from handlers.dialogue.base import Step
from handlers.dialogue.report import absorb_entities, submit
from handlers.dialogue.types import CreateTicket, DialogueState, Stage, draft_from_dict
from handlers.flows import FALLBACK_FLOW
from handlers.i18n import keys, t
from nlu.types import ADVICE_ORDER, Hazard, Parse

# the category a hazard files under when the NLU has no confident report intent
_KIND_FLOW = {
    "trapped": "report_safety",
    "electric_shock": "report_safety",
    "fire": "report_safety",
    "gas": "report_utilities",
    "violence": "report_dispute",
    "injury": "report_safety",
    "flood_electric": "report_safety",
    "falling_object": "report_safety",
    "vulnerable_person": "report_safety",
    "call_for_help": "report_safety",
}
# stages whose form already holds the resident's report (its words join the urgent ticket)
_FORM_STAGES = (Stage.FILLING, Stage.CONFIRMING, Stage.EDITING, Stage.CLARIFYING)
MAX_CUES = 4


def is_danger(parse: Parse | None) -> bool:
    """The message reports a danger happening now."""
    return parse is not None and bool(parse.hazards)


def on_danger(s: Step, text: str) -> None:
    """File an urgent report at once: advice first, no question before the ticket."""
    parse = s.parse
    if parse is None or not parse.hazards:
        return
    in_form = s.state.stage in _FORM_STAGES
    before = dict(s.state.slots) if in_form else {}
    form_flow = s.state.flow if in_form else None
    held = draft_from_dict(s.state.draft) if s.state.stage == Stage.DUPLICATE else None
    if held is not None:
        # a report held back by "the same problem is open" joins the urgent one
        before = _slots_of(held)
        form_flow = held.intent
    photos = s.state.slots.get("photos", "")
    flow = _flow_for(s, parse, form_flow)
    s.turn.state = DialogueState(
        stage=Stage.FILLING,
        flow=flow,
        slots=before,
        worker_pending=s.state.worker_pending,
        urgent=True,
        nlu_intent=s.intent,
        nlu_confidence=s.confidence,
    )
    slots = s.state.slots
    if photos:
        slots["photos"] = photos
    earlier = before.get("description", "")
    words = text.strip()
    if earlier and words not in earlier:
        words = f"{earlier}；{words}"
    slots["description"] = (words or earlier)[: s.cfg.max_text]
    kinds = list(dict.fromkeys(h.kind for h in parse.hazards))
    cues = list(dict.fromkeys(h.cue for h in parse.hazards))[:MAX_CUES]
    slots["hazards"] = ",".join(kinds)
    slots["hazard_cues"] = "|".join(cues)
    absorb_entities(s)
    if "building_id" not in slots and slots.get("building_value"):
        # named but not (uniquely) known: staff place it from the resident's words
        slots.setdefault("location_note", slots["building_value"][:100])
    s.say(advice_text(parse.hazards, s.loc))
    submit(s)


def _slots_of(held: CreateTicket) -> dict[str, str]:
    """A held report's facts as the form's slots."""
    slots = {
        "description": held.description,
        "building_name": held.building_name,
        "unit": held.unit,
        "room": held.room,
        "phone": held.phone,
        "location_note": held.location_note,
        "photos": ",".join(map(str, held.photos)),
    }
    if held.building_id is not None:
        slots["building"] = slots["building_id"] = str(held.building_id)
    return {k: v for k, v in slots.items() if v}


def _flow_for(s: Step, parse: Parse, form_flow: str | None) -> str:
    """The report's category: the form's, a confident NLU reading, or the hazard's own."""
    if form_flow and form_flow in s.cfg.flows and form_flow != FALLBACK_FLOW:
        return form_flow
    reports = [r for r in parse.ranking if r.name in s.cfg.flows]
    if reports and reports[0].name != FALLBACK_FLOW:
        best = reports[0]
        if best.name == s.intent and s.confidence >= s.cfg.clarify_threshold:
            return best.name
    first = parse.hazards[0]
    if first.kind == "trapped" and "96333" in first.advice:
        flow = "report_elevator"
    else:
        flow = _KIND_FLOW.get(first.kind, FALLBACK_FLOW)
    return flow if flow in s.cfg.flows else FALLBACK_FLOW


def advice_text(hazards: tuple[Hazard, ...], locale: str) -> str:
    """What to do right now: one line per advice code, the most life-saving first.

    Each line is worded for the hazard that called for its code when there is such a wording
    (``advice.<code>.<kind>``): 110 for a child alone at home is not 110 for a fight, and
    120 for an electric shock starts with cutting the power.
    """
    known = keys()
    codes = {code for hazard in hazards for code in hazard.advice}
    lines = []
    for code in (c for c in ADVICE_ORDER if c in codes):
        worded = [f"advice.{code}.{h.kind}" for h in hazards if code in h.advice]
        # a child or an elderly person at risk is the most specific reading ("孩子被锁在车里"
        # is a trapped person too, but the words for a child in a car are the ones to give)
        worded.sort(key=lambda key: not key.endswith(".vulnerable_person"))
        key = next((k for k in worded if k in known), f"advice.{code}")
        if key in known:
            lines.append(t(key, locale))
    return "\n".join([t("danger.header", locale), *lines, t("danger.filing", locale)])
