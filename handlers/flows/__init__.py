"""The registry of report flows: one module per report intent, one line each here."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.flows import (
    dispute,
    elevator,
    illegal_construction,
    noise,
    other,
    parking,
    property,
    safety,
    sanitation,
    utilities,
)
from handlers.flows.base import ReportFlow, Slot

FLOWS: Mapping[str, ReportFlow] = {
    flow.intent: flow
    for flow in (
        parking.FLOW,
        elevator.FLOW,
        dispute.FLOW,
        noise.FLOW,
        property.FLOW,
        sanitation.FLOW,
        utilities.FLOW,
        safety.FLOW,
        illegal_construction.FLOW,
        other.FLOW,
    )
}

# Intents the dialogue answers itself (no ticket): every NLU intent is a flow or one of these.
CONVERSATION_INTENTS = frozenset(
    {
        "greet",
        "help",
        "query_status",
        "cancel",
        "affirm",
        "deny",
        "rate",
        "human_agent",
        "thanks",
        "inform",
        "out_of_scope",
    }
)

FALLBACK_FLOW = "report_other"


def flow_for_category(category: str) -> ReportFlow | None:
    for flow in FLOWS.values():
        if flow.category == category:
            return flow
    return None


def category_label(category: str, locale: str = "zh") -> str:
    flow = flow_for_category(category)
    if flow is None:
        return category
    return flow.label.get(locale) or flow.label["zh"]


__all__ = [
    "CONVERSATION_INTENTS",
    "FALLBACK_FLOW",
    "FLOWS",
    "ReportFlow",
    "Slot",
    "category_label",
    "flow_for_category",
]
