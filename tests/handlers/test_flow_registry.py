"""The NLU's intents and the registered dialogue flows must stay in step."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlu
from handlers.flows import CONVERSATION_INTENTS, FLOWS
from handlers.i18n import keys

DATA = Path(__file__).resolve().parents[2] / "nlu" / "data"


def test_every_nlu_intent_has_a_flow_or_a_conversational_answer() -> None:
    intents = set(nlu.load_training_data(DATA).intents)
    assert intents == set(FLOWS) | CONVERSATION_INTENTS


@pytest.mark.parametrize("flow", list(FLOWS.values()), ids=list(FLOWS))
def test_each_flow_can_route_and_asks_known_questions(flow) -> None:  # type: ignore[no-untyped-def]
    names = [slot.name for slot in flow.slots]
    assert "building" in names and "description" in names
    assert flow.slot("building").required
    for slot in flow.slots:
        assert slot.prompt_key in keys(), f"{flow.intent}: no text for {slot.prompt_key}"
    assert set(flow.label) == {"zh", "en"}
    assert flow.priority in {"urgent", "high", "normal", "low"}


def test_categories_are_unique() -> None:
    categories = [flow.category for flow in FLOWS.values()]
    assert len(categories) == len(set(categories))


def test_training_data_has_no_example_twice() -> None:
    seen: dict[str, str] = {}
    for example in nlu.load_training_data(DATA).examples:
        assert example.text not in seen, (example.text, seen[example.text], example.intent)
        seen[example.text] = example.intent
