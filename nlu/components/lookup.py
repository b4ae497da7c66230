"""Entities from the training data (annotations, lookup tables, regexes, synonyms) and from
the registry hints (community and building names, with fuzzy matching for small typos)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from nlu.errors import TrainingDataError
from nlu.numbers import parse_address
from nlu.text import normalize
from nlu.types import Entity, Hints, TrainingData

LOOKUP_EXTRACTOR = "lookup"
REGEX_EXTRACTOR = "regex"
REGISTRY_EXTRACTOR = "registry"
FUZZY_EXTRACTOR = "registry_fuzzy"

_MAX_TERM_LEN = 24
_ASCII_WORD = re.compile(r"[0-9a-z]")
_COMMUNITY_SUFFIXES = ("小区", "花园", "家园", "新村", "社区", "公寓", "花苑", "苑", "园")


@dataclass(slots=True)
class DataEntityExtractor:
    """Finds entity types that the rule extractors do not cover, learnt from training data.

    Surface forms come from annotated examples and lookup tables, patterns from regexes;
    values are mapped through the synonyms (variant -> canonical).
    """

    terms: dict[str, tuple[str, str]] = field(default_factory=dict)
    patterns: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    _by_first: dict[str, list[int]] = field(default_factory=dict)
    _starts: re.Pattern[str] | None = None

    @classmethod
    def from_training_data(
        cls, data: TrainingData, skip_types: Iterable[str] = ()
    ) -> DataEntityExtractor:
        """Build the tables; entity types in ``skip_types`` are left to the rule extractors."""
        skip = set(skip_types)
        synonyms: dict[str, str] = {}
        for canonical, variants in data.synonyms.items():
            for variant in variants:
                synonyms[normalize(variant)] = canonical
        terms: dict[str, tuple[str, str]] = {}
        for example in data.examples:
            for ann in example.entities:
                if ann.entity in skip:
                    continue
                surface = normalize(example.text[ann.start : ann.end]).strip()
                if 0 < len(surface) <= _MAX_TERM_LEN:
                    value = ann.value or synonyms.get(surface, example.text[ann.start : ann.end])
                    terms.setdefault(surface, (ann.entity, value))
        for name, elements in data.lookups.items():
            if name in skip:
                continue
            for element in elements:
                surface = normalize(element).strip()
                if 0 < len(surface) <= _MAX_TERM_LEN:
                    terms.setdefault(surface, (name, synonyms.get(surface, element)))
        patterns = {k: list(v) for k, v in data.regexes.items() if k not in skip}
        extractor = cls(terms=terms, patterns=patterns, synonyms=synonyms)
        extractor.compile()
        return extractor

    def compile(self) -> None:
        """Compile regexes and index term lengths (called after construction or loading)."""
        self._compiled = []
        for name, pats in self.patterns.items():
            for pat in pats:
                try:
                    self._compiled.append((name, re.compile(pat)))
                except re.error as e:
                    raise TrainingDataError(f"regex {name!r}: invalid pattern {pat!r}: {e}") from e
        # First character -> candidate term lengths, longest first: most positions of a
        # message start no term at all and cost one dict lookup.
        by_first: dict[str, set[int]] = {}
        for term in self.terms:
            by_first.setdefault(term[0], set()).add(len(term))
        self._by_first = {ch: sorted(ls, reverse=True) for ch, ls in by_first.items()}
        # Jump between positions where a term may start (a C-speed scan) instead of
        # visiting every character of a long message in Python.
        self._starts = (
            re.compile("[" + "".join(re.escape(ch) for ch in sorted(by_first)) + "]")
            if by_first
            else None
        )

    def state(self) -> dict[str, object]:
        """JSON-serialisable state."""
        return {
            "terms": {t: list(v) for t, v in sorted(self.terms.items())},
            "patterns": self.patterns,
            "synonyms": self.synonyms,
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> DataEntityExtractor:
        """Rebuild from :meth:`state` output."""
        raw_terms = state.get("terms", {})
        raw_patterns = state.get("patterns", {})
        raw_synonyms = state.get("synonyms", {})
        if not (
            isinstance(raw_terms, dict)
            and isinstance(raw_patterns, dict)
            and isinstance(raw_synonyms, dict)
        ):
            raise ValueError("entity tables must be mappings")
        extractor = cls(
            terms={str(k): (str(v[0]), str(v[1])) for k, v in raw_terms.items()},
            patterns={str(k): [str(p) for p in v] for k, v in raw_patterns.items()},
            synonyms={str(k): str(v) for k, v in raw_synonyms.items()},
        )
        extractor.compile()
        return extractor

    def extract(self, text: str, original: str) -> list[Entity]:
        """Longest-match lookup of known surface forms, then the regexes."""
        found: list[Entity] = []
        n = len(text)
        by_first = self._by_first
        resume = 0  # matches never overlap: skip starts inside the previous match
        for candidate in self._starts.finditer(text) if self._starts else ():
            i = candidate.start()
            if i < resume:
                continue
            for length in by_first[text[i]]:
                if i + length > n:
                    continue
                hit = self.terms.get(text[i : i + length])
                if hit is not None and _ascii_bounded(text, i, i + length):
                    kind, value = hit
                    resume = i + length
                    found.append(
                        Entity(kind, value, i, resume, original[i:resume], LOOKUP_EXTRACTOR)
                    )
                    break
        for name, pattern in self._compiled:
            # Rasa applies regexes to the text as written; the normalised text also catches
            # full-width or traditional spellings. Spans are the same in both.
            spans = {m.span() for m in pattern.finditer(original)}
            spans.update(m.span() for m in pattern.finditer(text))
            for start, end in sorted(spans):
                if end > start:
                    value = self.synonyms.get(text[start:end], original[start:end])
                    found.append(
                        Entity(name, value, start, end, original[start:end], REGEX_EXTRACTOR)
                    )
        return found


def _ascii_bounded(text: str, start: int, end: int) -> bool:
    # "ab" must not match inside "abc": ASCII terms need non-alphanumeric neighbours.
    if start > 0 and _ASCII_WORD.match(text[start]) and _ASCII_WORD.match(text[start - 1]):
        return False
    return not (
        end < len(text) and _ASCII_WORD.match(text[end - 1]) and _ASCII_WORD.match(text[end])
    )


@dataclass(frozen=True, slots=True)
class _HintTable:
    # canonical address form (e.g. "3幢") -> registry canonical names (maybe several communities)
    by_form: dict[str, tuple[tuple[str, str | None], ...]]
    # free-text names (综合楼, community names): normalised name -> (type, canonical, community)
    names: tuple[tuple[str, str, str, str | None], ...]


@lru_cache(maxsize=16)
def _hint_table(hints: Hints) -> _HintTable:
    by_form: dict[str, list[tuple[str, str | None]]] = {}
    names: list[tuple[str, str, str, str | None]] = []
    for building in hints.buildings:
        for name in (building.canonical, *building.aliases):
            norm = normalize(name).strip()
            if not norm:
                continue
            address = parse_address(norm)
            if address is not None and address.building and not (address.unit or address.room):
                bucket = by_form.setdefault(address.building, [])
                if (building.canonical, building.community) not in bucket:
                    bucket.append((building.canonical, building.community))
            else:
                names.append((norm, "building", building.canonical, building.community))
    for community in hints.communities:
        norm = normalize(community).strip()
        if not norm:
            continue
        names.append((norm, "community", community, None))
        for suffix in _COMMUNITY_SUFFIXES:
            core = norm.removesuffix(suffix)
            if core != norm and len(core) >= 3:
                names.append((core, "community", community, None))
                break
    names.sort(key=lambda n: -len(n[0]))
    return _HintTable({k: tuple(v) for k, v in by_form.items()}, tuple(names))


def _allowed_edits(name: str) -> int:
    if len(name) < 4 or any(ch.isdigit() for ch in name):
        return 0  # digits carry meaning: "3号楼" vs "5号楼" is not a typo
    return 1 if len(name) < 7 else 2


def match_hints(
    text: str, original: str, address: Sequence[Entity], hints: Hints
) -> tuple[list[Entity], set[int]]:
    """Match registry names in the text.

    Args:
        text: normalised text.
        original: the text as sent.
        address: building entities already found by the address extractor.
        hints: the registry's buildings and communities.

    Returns:
        New entities (communities, named buildings, and registry versions of the address
        extractor's buildings) and the indices into ``address`` that they replace.
    """
    table = _hint_table(hints)
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for norm, kind, canonical, _community in table.names:
        start = text.find(norm)
        confidence = 1.0
        extractor = REGISTRY_EXTRACTOR
        if start < 0:
            edits = _allowed_edits(norm)
            if not edits:
                continue
            alignment = fuzz.partial_ratio_alignment(norm, text, score_cutoff=60)
            if alignment is None:
                continue
            start, end = alignment.dest_start, alignment.dest_end
            distance = Levenshtein.distance(norm, text[start:end])
            if distance > edits:
                continue
            confidence = round(1.0 - distance / max(len(norm), 1), 3)
            extractor = FUZZY_EXTRACTOR
        else:
            end = start + len(norm)
        if not free(start, end):
            continue
        taken.append((start, end))
        found.append(
            Entity(kind, canonical, start, end, original[start:end], extractor, confidence)
        )

    communities = {e.value for e in found if e.type == "community"}
    replaced: set[int] = set()
    for index, entity in enumerate(address):
        if entity.type != "building":
            continue
        candidates = table.by_form.get(entity.value)
        if not candidates:
            continue
        chosen = next((c for c in candidates if c[1] in communities), candidates[0])
        replaced.add(index)
        found.append(
            Entity(
                "building",
                chosen[0],
                entity.start,
                entity.end,
                entity.text,
                REGISTRY_EXTRACTOR,
                entity.confidence,
            )
        )
    return found, replaced
