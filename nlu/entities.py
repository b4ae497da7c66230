"""Runs the entity extractors a pipeline enables and resolves overlapping spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from nlu.components.address import extract_address
from nlu.components.contact import extract_phones, extract_plates
from nlu.components.lookup import DataEntityExtractor, match_hints
from nlu.components.timex import extract_times
from nlu.components.urgency import extract_urgency
from nlu.types import Entity, Hints

# When spans overlap, the entity from the earlier extractor here wins (then the longer span).
_PRIORITY = {
    "registry": 0,
    "registry_fuzzy": 1,
    "regex_phone": 2,
    "regex_plate": 3,
    "regex_address": 4,
    "regex_time": 5,
    "lookup": 6,
    "regex": 7,
}
# Urgency cues may sit inside another entity's span ("电梯困人" as a lookup term).
_NON_EXCLUSIVE = frozenset({"urgency_cues"})
# Entity types the built-in time extractor stands for. A project whose training data defines
# one of them itself (annotations, lookups, regexes) keeps its own reading where they overlap.
_TIME_TYPES = frozenset({"date", "time"})
_DATA_EXTRACTORS = frozenset({"lookup", "regex"})


@dataclass(slots=True)
class EntityPipeline:
    """The enabled extractors, in a fixed order, plus the training data's tables."""

    enabled: frozenset[str]
    data: DataEntityExtractor = field(default_factory=DataEntityExtractor)
    #: date/time types the training data defines itself (they win over the time extractor)
    own_time: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        defined = {kind for kind, _ in self.data.terms.values()} | set(self.data.patterns)
        self.own_time = frozenset(defined & _TIME_TYPES)

    def extract(
        self, text: str, original: str, hints: Hints | None, now: datetime | None
    ) -> tuple[Entity, ...]:
        """All entities of one message, spans in the original text, in text order."""
        candidates: list[Entity] = []
        address: list[Entity] = []
        if "address_extractor" in self.enabled:
            address = extract_address(text, original)
        if hints is not None and "registry_matcher" in self.enabled:
            matched, replaced = match_hints(text, original, address, hints)
            address = [e for i, e in enumerate(address) if i not in replaced]
            candidates.extend(matched)
        candidates.extend(address)
        if "phone_extractor" in self.enabled:
            candidates.extend(extract_phones(text, original))
        if "plate_extractor" in self.enabled:
            candidates.extend(extract_plates(text, original))
        if "time_extractor" in self.enabled:
            candidates.extend(extract_times(text, original, now))
        if "data_entity_extractor" in self.enabled:
            candidates.extend(self.data.extract(text, original))
        kept = _resolve_overlaps(candidates, self.own_time)
        if "urgency_extractor" in self.enabled:
            kept.extend(extract_urgency(text, original))
        kept.sort(key=lambda e: (e.start, e.end, e.type))
        return tuple(kept)


def _resolve_overlaps(
    candidates: list[Entity], own_time: frozenset[str] = frozenset()
) -> list[Entity]:
    def rank(e: Entity) -> float:
        if own_time and e.type in own_time and e.extractor in _DATA_EXTRACTORS:
            return _PRIORITY["regex_time"] - 0.5  # the project's own date/time reading first
        return _PRIORITY.get(e.extractor, 9)

    ordered = sorted(candidates, key=lambda e: (rank(e), -(e.end - e.start), e.start))
    kept: list[Entity] = []
    for entity in ordered:
        if entity.extractor in _NON_EXCLUSIVE or all(
            entity.end <= k.start or entity.start >= k.end for k in kept
        ):
            kept.append(entity)
    return kept
