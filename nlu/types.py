"""Public value types of the NLU package: what a parse returns and what training consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity found in a message.

    Attributes:
        type: entity name, snake_case (``building``, ``unit``, ``room``, ``phone``, ``plate``,
            ``urgency``, ``time``, ``community``).
        value: the canonical value (``3幢``, ``2``, ``501``, ``13812345678``, ``浙A12345``,
            ``urgent``, an ISO datetime or recurrence string, a community name).
        start: start offset of the span in the original text.
        end: end offset (exclusive) of the span in the original text.
        text: the surface text of the span.
        extractor: name of the component that found it (``regex_address``, ``lookup`` ...).
        confidence: 1.0 for rule matches, lower for fuzzy matches.
    """

    type: str
    value: str
    start: int
    end: int
    text: str
    extractor: str
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class IntentScore:
    """An intent with its calibrated confidence (0..1)."""

    name: str
    confidence: float


ADVICE_ORDER = ("120", "119", "110", "96333", "gas", "power")
"""Safety advice codes, the most life-saving first (the order ``Parse.advice`` uses)."""


@dataclass(frozen=True, slots=True)
class Hazard:
    """A danger the message reports as happening now (see :mod:`nlu.safety`).

    Attributes:
        kind: ``trapped``, ``electric_shock``, ``fire``, ``gas``, ``violence``, ``injury``,
            ``flood_electric``, ``falling_object``, ``vulnerable_person`` or ``call_for_help``.
        advice: what to do at once, most urgent first: ``96333`` (lift rescue), ``119`` (fire
            and rescue), ``110`` (police), ``120`` (ambulance), ``gas`` (the gas company's
            emergency line), ``power`` (keep away, cut the power; power repair line 95598).
        cue: the words that triggered it, as the resident wrote them.
        start: start offset of the cue in the original text.
        end: end offset (exclusive) of the cue.
    """

    kind: str
    advice: tuple[str, ...]
    cue: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Parse:
    """The result of parsing one message.

    ``ranking`` is sorted by confidence, best first, and starts with ``intent``. ``hazards``
    are the dangers the message reports as happening now (empty for almost every message).
    """

    text: str
    intent: IntentScore
    ranking: tuple[IntentScore, ...]
    entities: tuple[Entity, ...] = ()
    hazards: tuple[Hazard, ...] = ()

    @property
    def urgent(self) -> bool:
        """The message reports a danger happening now: file it as urgent, advise at once."""
        return bool(self.hazards)

    @property
    def advice(self) -> tuple[str, ...]:
        """Every advice code the hazards call for, once each, the most life-saving first."""
        codes = {code for hazard in self.hazards for code in hazard.advice}
        return tuple(code for code in ADVICE_ORDER if code in codes)

    def first(self, entity_type: str) -> Entity | None:
        """Return the first entity of a type, or None."""
        for entity in self.entities:
            if entity.type == entity_type:
                return entity
        return None

    def values(self, entity_type: str) -> list[str]:
        """Return the values of all entities of a type, in text order."""
        return [e.value for e in self.entities if e.type == entity_type]


@dataclass(frozen=True, slots=True)
class BuildingHint:
    """A building known to the registry, passed to the parser so it can match names.

    Attributes:
        canonical: the registry's canonical name (``3幢``, ``B区5幢``, ``综合楼``).
        aliases: other names residents use (``3号楼``, ``三幢``, ``3栋``).
        community: the community the building belongs to, if known.
    """

    canonical: str
    aliases: tuple[str, ...] = ()
    community: str | None = None


@dataclass(frozen=True, slots=True)
class Hints:
    """Registry knowledge the parser may use: building names and community names."""

    buildings: tuple[BuildingHint, ...] = ()
    communities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnnotatedEntity:
    """An entity annotation inside a training example (Rasa ``[text](entity)`` syntax)."""

    start: int
    end: int
    entity: str
    value: str | None = None  # set when the annotation maps to a synonym/canonical value
    role: str | None = None  # Rasa entity role (``{"entity": "x", "role": "from"}``)
    group: str | None = None  # Rasa entity group


@dataclass(frozen=True, slots=True)
class Example:
    """One training example: plain text (annotations removed) plus its entities."""

    text: str
    intent: str
    entities: tuple[AnnotatedEntity, ...] = ()
    # Rasa example ``metadata`` (any mapping), kept through imports and exports; not a feature
    metadata: Mapping[str, object] | None = field(default=None, compare=False, hash=False)


@dataclass(slots=True)
class TrainingData:
    """Everything a Rasa NLU file can hold, in memory."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # canonical -> variants
    regexes: dict[str, list[str]] = field(default_factory=dict)  # name -> patterns
    lookups: dict[str, list[str]] = field(default_factory=dict)  # name -> elements

    @property
    def intents(self) -> list[str]:
        """Intent names in first-seen order."""
        seen: dict[str, None] = {}
        for example in self.examples:
            seen.setdefault(example.intent, None)
        return list(seen)

    def merge(self, other: TrainingData) -> TrainingData:
        """Return a new TrainingData holding both (other's entries appended)."""
        merged = TrainingData(
            examples=[*self.examples, *other.examples],
            synonyms={k: list(v) for k, v in self.synonyms.items()},
            regexes={k: list(v) for k, v in self.regexes.items()},
            lookups={k: list(v) for k, v in self.lookups.items()},
        )
        for target, source in (
            (merged.synonyms, other.synonyms),
            (merged.regexes, other.regexes),
            (merged.lookups, other.lookups),
        ):
            for key, items in source.items():
                bucket = target.setdefault(key, [])
                bucket.extend(i for i in items if i not in bucket)
        return merged


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision thresholds that ship with a model (set from evaluation data when training).

    Attributes:
        clarify: below this top-intent confidence the dialogue asks back with the top
            candidates as choices (two-stage fallback) instead of acting on the intent.
        out_of_scope: below this, the parser itself answers ``out_of_scope``.
    """

    clarify: float = 0.55
    out_of_scope: float = 0.2
