"""The pipeline's parts built from a config: span masker, tokenizer, featurizers, classifier
and problem detector (shared by training, parsing and loading)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from nlu.components.classifier import LinearIntentClassifier
from nlu.components.featurizers import (
    CharNgramFeaturizer,
    Featurizer,
    Message,
    TfidfFeaturizer,
)
from nlu.components.masking import SpanMasker
from nlu.components.problem import ProblemDetector
from nlu.components.tokenizer import JiebaTokenizer, domain_terms
from nlu.config import (
    CLASSIFIERS,
    FEATURIZERS,
    POSTPROCESSORS,
    PREPROCESSORS,
    TOKENIZERS,
    PipelineConfig,
)
from nlu.errors import ConfigError
from nlu.text import normalize
from nlu.types import Hints, TrainingData


def make_featurizer(label: str, name: str, params: dict[str, Any]) -> Featurizer:
    """A featurizer from its pipeline step (raises ConfigError for unknown parameters)."""
    try:
        if name == "char_ngrams":
            return CharNgramFeaturizer(label, **params)
        if name == "word_ngrams":
            return TfidfFeaturizer(label, **{**params, "analyzer": "word"})
        if name == "tfidf":
            return TfidfFeaturizer(label, **params)
    except TypeError as e:
        raise ConfigError(f"{label}: {e}") from e
    if name == "sentence_embedding":
        from nlu.components.embeddings import SentenceEmbeddingFeaturizer

        try:
            return SentenceEmbeddingFeaturizer(label, **params)
        except TypeError as e:
            raise ConfigError(f"{label}: {e}") from e
    raise ConfigError(f"{label}: {name!r} is not a featurizer")


@dataclass(slots=True)
class Core:
    """Everything that turns text into intent scores (shared by training and parsing)."""

    tokenizer: JiebaTokenizer | None
    featurizers: list[Featurizer]
    classifier: LinearIntentClassifier
    max_chars: int
    masker: SpanMasker | None = None

    def message(self, text: str, norm: str | None = None) -> Message:
        """The featurizers' view of a text (``norm``: its normalisation, if already made)."""
        norm = normalize(text[: self.max_chars]) if norm is None else norm[: self.max_chars]
        if self.masker is not None:
            norm = self.masker(norm)
        tokens: tuple[str, ...] = ()
        if self.tokenizer:
            tokens = tuple(self.tokenizer.tokenize(norm[: self.tokenizer.max_chars]))
        return Message(norm, tokens)

    def fit(self, messages: Sequence[Message], labels: Sequence[str]) -> sparse.csr_matrix:
        """Fit featurizers and classifier; returns the messages' feature matrix."""
        blocks = [f.fit_transform(messages) for f in self.featurizers]
        x = sparse.hstack(blocks, format="csr")
        self.classifier.fit(x, labels)
        return x

    def features(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """Feature matrix of several messages."""
        return sparse.hstack([f.transform_many(messages) for f in self.featurizers], format="csr")

    def scores_many(self, messages: Sequence[Message]) -> npt.NDArray[np.float64]:
        return self.scores_and_active(messages)[0]

    def scores_and_active(
        self, messages: Sequence[Message]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Scores of several messages and how many features each activated."""
        x = self.features(messages)
        return self.classifier.scores_many(x), np.diff(x.indptr)

    def scores(self, message: Message) -> tuple[npt.NDArray[np.float64], int]:
        """Scores of one message and how many features it activated."""
        indices = []
        values = []
        offset = 0
        for f in self.featurizers:
            idx, val = f.transform(message)
            indices.append(idx + offset)
            values.append(val)
            offset += f.dim
        idx_all = np.concatenate(indices)
        return self.classifier.scores(idx_all, np.concatenate(values)), len(idx_all)


def user_words(data: TrainingData, hints: Hints | None) -> list[str]:
    """The tokenizer's user dictionary: domain terms, entity texts, lookups, synonyms, hints."""
    words = set(domain_terms())
    for example in data.examples:
        for ann in example.entities:
            words.add(example.text[ann.start : ann.end])
    for items in data.lookups.values():
        words.update(items)
    for canonical, variants in data.synonyms.items():
        words.add(canonical)
        words.update(variants)
    if hints is not None:
        words.update(hints.communities)
        for building in hints.buildings:
            words.add(building.canonical)
            words.update(building.aliases)
    return sorted(normalize(w).strip() for w in words if 1 < len(w.strip()) <= 24)


def build_tokenizer(config: PipelineConfig, user_words: Sequence[str]) -> JiebaTokenizer | None:
    """The pipeline's tokenizer, or None when it has none."""
    tokenizer = None
    for step in config.components(TOKENIZERS):
        try:
            tokenizer = JiebaTokenizer(user_words, **step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return tokenizer


def build_core(config: PipelineConfig, tokenizer: JiebaTokenizer | None) -> Core:
    """Untrained featurizers and classifier (with the span masker) for a pipeline."""
    featurizers = [
        make_featurizer(c.label, c.name, c.params) for c in config.components(FEATURIZERS)
    ]
    if tokenizer is None and any(
        isinstance(f, TfidfFeaturizer) and f.analyzer == "word" for f in featurizers
    ):
        raise ConfigError("a word-level featurizer needs a tokenizer earlier in the pipeline")
    (clf_step,) = config.components(CLASSIFIERS)
    try:
        classifier = LinearIntentClassifier(**clf_step.params)
    except TypeError as e:
        raise ConfigError(f"{clf_step.label}: {e}") from e
    return Core(tokenizer, featurizers, classifier, config.training.max_chars, build_masker(config))


def build_detector(config: PipelineConfig) -> ProblemDetector | None:
    """The pipeline's problem detector, or None."""
    for step in config.components(POSTPROCESSORS):
        try:
            return ProblemDetector(**step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return None


def build_masker(config: PipelineConfig) -> SpanMasker | None:
    """The pipeline's span masker, or None."""
    for step in config.components(PREPROCESSORS):
        try:
            return SpanMasker(**step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return None
