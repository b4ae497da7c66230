"""Intents added in the admin console without a flow of their own (decision: file as other)."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.address import BuildingRef
from handlers.dialogue import (
    CreateTicket,
    DialogueConfig,
    DialogueState,
    ResidentContext,
    Stage,
    step,
)
from tests.factories import inbound, parse_of

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
BUILDING = BuildingRef(
    id=3, name="3幢", aliases=("3号楼",), community_id=1, community="阳光花园社区"
)
CTX = ResidentContext(now=NOW, buildings=(BUILDING,), community_id=1)
CFG = DialogueConfig(clarify_threshold=0.55)


def test_a_confident_intent_without_a_flow_is_filed_as_other_keeping_the_intent() -> None:
    text = "3幢有人遛狗不牵绳"
    parse = parse_of("report_pets", 0.91, text=text, entities={"building": "3幢"})
    turn = step(DialogueState(), inbound(text), parse, CTX, CFG)
    assert turn.state.stage == Stage.FILLING
    assert turn.state.flow == "report_other"
    assert turn.state.nlu_intent == "report_pets"
    assert turn.state.slots["description"] == text
    # the other flow asks its remaining questions; confirming files an "other" ticket
    state = turn.state
    for _ in range(4):
        if state.stage == Stage.CONFIRMING:
            break
        state = step(state, inbound(button="skip"), None, CTX, CFG).state
    done = step(state, inbound(button="confirm"), None, CTX, CFG)
    created = [a for a in done.actions if isinstance(a, CreateTicket)]
    assert created and created[0].category == "other"
    assert created[0].nlu_intent == "report_pets"


def test_an_unsure_intent_without_a_flow_still_asks_which_category() -> None:
    parse = parse_of(
        "report_pets", 0.4, text="狗", ranking=[("report_pets", 0.4), ("report_dispute", 0.3)]
    )
    turn = step(DialogueState(), inbound("狗"), parse, CTX, CFG)
    assert turn.state.stage == Stage.CLARIFYING
    assert "report_dispute" in turn.state.candidates


def test_conversational_intents_are_not_filed() -> None:
    turn = step(DialogueState(), inbound("谢谢"), parse_of("thanks", 0.95, text="谢谢"), CTX, CFG)
    assert turn.actions == [] and turn.state.stage == Stage.IDLE
