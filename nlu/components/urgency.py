"""The ``urgency`` entity: one per hazard the safety layer finds (:mod:`nlu.safety`).

Kept for consumers that read entities; ``Parse.hazards`` carries the same findings with their
kind and advice. Negated, hypothetical and past mentions ("没有人被困", "万一着火", "上次着火的
事") give none.
"""

from __future__ import annotations

from nlu.safety import hazards_in
from nlu.types import Entity

EXTRACTOR = "urgency_cues"


def extract_urgency(text: str, original: str) -> list[Entity]:
    """One ``urgency`` entity (value ``urgent``) per hazard, spanning the cue that raised it."""
    return [
        Entity("urgency", "urgent", h.start, h.end, h.cue, EXTRACTOR)
        for h in hazards_in(text, original)
    ]
