"""The trained NLU model: train, parse, save, load."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
from nlu.components.lookup import DataEntityExtractor
from nlu.components.masking import SpanMasker
from nlu.components.problem import ProblemDetector
from nlu.components.tokenizer import JiebaTokenizer, domain_terms
from nlu.config import (
    CLASSIFIERS,
    EXTRACTORS,
    FEATURIZERS,
    POSTPROCESSORS,
    PREPROCESSORS,
    TOKENIZERS,
    PipelineConfig,
)
from nlu.entities import EntityPipeline
from nlu.errors import ConfigError, ModelLoadError, NLUError, TrainingDataError
from nlu.safety import hazards_in
from nlu.text import normalize
from nlu.types import Example, Hints, IntentScore, Parse, Thresholds, TrainingData

FORMAT = "minhu-nlu/1"
OUT_OF_SCOPE = "out_of_scope"
_MODEL_FILE = "model.json"
_ARRAYS_FILE = "arrays.npz"
_HELD_OUT_FILE = "heldout.jsonl"
_TRAINED_FILE = "trained.txt"
_GATE_DIR = "gate"
_MAX_CONFIDENCE = 0.999999

Progress = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:
    del stage, fraction


def _make_featurizer(label: str, name: str, params: dict[str, Any]) -> Featurizer:
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
class _Core:
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


class NLUModel:
    """A trained pipeline: parses messages into intents with confidences and entities.

    Parsing is pure CPU work with no I/O, and never raises for odd input.
    """

    def __init__(
        self,
        *,
        core: _Core,
        entities: EntityPipeline,
        config: PipelineConfig,
        thresholds: Thresholds,
        version: str,
        metadata: dict[str, object],
        held_out: tuple[Example, ...] = (),
        trained_on: frozenset[str] = frozenset(),
        gate: NLUModel | None = None,
    ) -> None:
        self._core = core
        self._entities = entities
        self.config = config
        self.thresholds = thresholds
        self.version = version
        self.metadata = metadata
        #: The examples held out from training (scored to calibrate and to compare versions).
        self.held_out = held_out
        #: :func:`example_digest` of every example the final weights were fitted on.
        self.trained_on = trained_on
        #: When refitted on all examples: the model as it was before, trained without the
        #: held-out part (versions are compared with their gates, on examples neither saw).
        self.gate = gate
        self._detector = _build_detector(config)

    @property
    def intents(self) -> list[str]:
        """Intent names the classifier knows, sorted."""
        return list(self._core.classifier.labels)

    def parse(self, text: str, hints: Hints | None = None, *, now: datetime | None = None) -> Parse:
        """Parse one message.

        Args:
            text: the message as sent; any string, including empty or very long ones.
            hints: registry building and community names to match entities against.
            now: reference time (in the residents' timezone) for resolving relative time
                expressions; when None they stay relative (``rel:day-1T22:00``).

        Returns:
            The parse. When the top confidence is below ``thresholds.out_of_scope`` or the
            message shares no feature with the training data, the intent is ``out_of_scope``
            and the classifier's ranking follows it.
        """
        if not isinstance(text, str):
            text = str(text)
        norm = self._normalize(text)
        message = self._core.message(text, norm)
        scores, active = self._core.scores(message)
        probs = self._core.classifier.probabilities(scores)
        return self._build_parse(text, norm, message.text, probs, active, hints, now)

    def _normalize(self, text: str) -> str:
        # Normalise once, only as far as anything reads: the classifier reads max_chars,
        # the entity extractors entity_max_chars (a resident's key facts come first).
        training = self.config.training
        return normalize(text[: max(self._core.max_chars, training.entity_max_chars)])

    def parse_batch(
        self,
        texts: Iterable[str],
        hints: Hints | None = None,
        *,
        now: datetime | None = None,
    ) -> list[Parse]:
        """Parse several messages (vectorised classification; same results as :meth:`parse`)."""
        items = [t if isinstance(t, str) else str(t) for t in texts]
        if not items:
            return []
        norms = [self._normalize(t) for t in items]
        messages = [self._core.message(t, n) for t, n in zip(items, norms, strict=True)]
        scores, active = self._core.scores_and_active(messages)
        probs = self._core.classifier.probabilities(scores)
        return [
            self._build_parse(t, n, m.text, p, int(a), hints, now)
            for t, n, m, p, a in zip(items, norms, messages, probs, active, strict=True)
        ]

    def with_thresholds(self, thresholds: Thresholds) -> NLUModel:
        """The same model with other thresholds (e.g. set by an administrator)."""
        return NLUModel(
            core=self._core,
            entities=self._entities,
            config=self.config,
            thresholds=thresholds,
            version=self.version,
            metadata=dict(self.metadata),
            held_out=self.held_out,
            trained_on=self.trained_on,
            gate=self.gate,
        )

    def intent_probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Calibrated probabilities, shape (texts, intents) in :attr:`intents` order."""
        messages = [self._core.message(t) for t in texts]
        if not messages:
            return np.zeros((0, len(self.intents)))
        return self._core.classifier.probabilities(self._core.scores_many(messages))

    def _build_parse(
        self,
        text: str,
        norm: str,
        view: str,
        probs: npt.NDArray[np.float64],
        active: int,
        hints: Hints | None,
        now: datetime | None,
    ) -> Parse:
        labels = self._core.classifier.labels
        order = np.argsort(-probs, kind="stable")
        # A probability is never certainty: capped so that a stricter threshold can always be set.
        ranking = [
            IntentScore(labels[i], round(min(float(probs[i]), _MAX_CONFIDENCE), 6)) for i in order
        ]
        top = ranking[0]
        if active == 0 or top.confidence < self.thresholds.out_of_scope:
            # Nothing the model knows, or too unsure: answer out_of_scope but keep the
            # classifier's guesses so the dialogue can still offer them as choices.
            confidence = 1.0 if active == 0 else round(max(1.0 - top.confidence, 0.5), 6)
            ranking = [
                IntentScore(OUT_OF_SCOPE, confidence),
                *(r for r in ranking if r.name != OUT_OF_SCOPE),
            ]
            top = ranking[0]
        detector = self._detector
        if detector is not None and detector.applies(top.name) and detector.is_problem(view):
            # A problem someone should solve is a report, never chat: the best report intent,
            # with its own confidence (an unsure one is asked back with the candidates).
            report = next((r for r in ranking if r.name.startswith(detector.prefix)), None)
            if report is not None:
                ranking = [report, *(r for r in ranking if r is not report)]
                top = report
        limit = self.config.training.entity_max_chars
        entities = self._entities.extract(norm[:limit], text[:limit], hints, now)
        # Danger first: every parse carries the hazards found, whatever the pipeline.
        hazards = hazards_in(norm[:limit], text[:limit])
        return Parse(
            text=text, intent=top, ranking=tuple(ranking), entities=entities, hazards=hazards
        )

    # ------------------------------------------------------------------ persistence

    def save(self, directory: Path, *, include_gate: bool = True) -> None:
        """Write the model to a directory (created if needed): model.json + arrays.npz.

        ``model.json`` records the SHA-256 of ``arrays.npz``; :func:`load_model` checks it.
        ``heldout.jsonl`` and ``trained.txt`` record the training split; the gate model (if
        any, see :attr:`gate`) goes to ``gate/`` unless ``include_gate`` is false.
        """
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for i, f in enumerate(self._core.featurizers):
            for key, value in f.arrays().items():
                arrays[f"featurizer{i}.{key}"] = value
        clf = self._core.classifier
        # float16 halves the file; scores move by ~1e-3, far below any threshold's resolution.
        arrays["classifier.weights"] = clf.weights.astype(np.float16)
        arrays["classifier.bias"] = clf.bias
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        blob = buffer.getvalue()
        document = {
            "format": FORMAT,
            "version": self.version,
            "arrays_sha256": hashlib.sha256(blob).hexdigest(),
            "config": self.config.to_dict(),
            "thresholds": {
                "clarify": self.thresholds.clarify,
                "out_of_scope": self.thresholds.out_of_scope,
            },
            "tokenizer": {
                "user_words": self._core.tokenizer.user_words,
                "max_chars": self._core.tokenizer.max_chars,
            }
            if self._core.tokenizer
            else None,
            "featurizers": [{"name": f.name, "params": f.params} for f in self._core.featurizers],
            "classifier": {
                "params": clf.params,
                "labels": clf.labels,
                "temperature": clf.temperature,
            },
            "entities": {
                "enabled": sorted(self._entities.enabled),
                "data": self._entities.data.state(),
            },
            "metadata": self.metadata,
        }
        (directory / _ARRAYS_FILE).write_bytes(blob)
        (directory / _MODEL_FILE).write_text(
            json.dumps(document, ensure_ascii=False, indent=1, default=str), "utf-8"
        )
        # The training split, so that later versions can be compared on unseen examples.
        (directory / _HELD_OUT_FILE).write_text(
            "".join(
                json.dumps({"text": e.text, "label": e.intent}, ensure_ascii=False) + "\n"
                for e in self.held_out
            ),
            "utf-8",
        )
        (directory / _TRAINED_FILE).write_text(
            "".join(d + "\n" for d in sorted(self.trained_on)), "utf-8"
        )
        if self.gate is not None and include_gate:
            self.gate.save(directory / _GATE_DIR, include_gate=False)


def load_model(directory: Path) -> NLUModel:
    """Load a model saved with :meth:`NLUModel.save`.

    Raises:
        ModelLoadError: the directory or a file is missing, the checksum does not match, or
            the content is not a model of this format.
    """
    model_file = directory / _MODEL_FILE
    arrays_file = directory / _ARRAYS_FILE
    if not directory.is_dir():
        raise ModelLoadError(f"no NLU model at {directory}: directory does not exist")
    for path in (model_file, arrays_file):
        if not path.is_file():
            raise ModelLoadError(f"NLU model at {directory} is incomplete: {path.name} is missing")
    try:
        document = json.loads(model_file.read_text("utf-8"))
        blob = arrays_file.read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"NLU model at {directory} is unreadable: {e}") from e
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ModelLoadError(
            f"{model_file} is not an NLU model of format {FORMAT!r} (found {found!r})"
        )
    expected = document.get("arrays_sha256")
    actual = hashlib.sha256(blob).hexdigest()
    if expected != actual:
        raise ModelLoadError(
            f"NLU model at {directory} is corrupt: {_ARRAYS_FILE} checksum {actual[:12]}... "
            f"does not match the recorded {str(expected)[:12]}..."
        )
    try:
        model = _restore(document, blob)
        model.held_out, model.trained_on = _read_split(directory)
    except (KeyError, TypeError, ValueError, IndexError, NLUError, OSError) as e:
        raise ModelLoadError(f"NLU model at {directory} is corrupt: {e!r}") from e
    return model


def load_gate(directory: Path) -> NLUModel:
    """Load the gate of a saved model: its ``gate/`` model, or the model itself if it has none.

    The gate was trained without the held-out examples, so two versions' gates can be
    compared on held-out examples that neither saw.

    Raises:
        ModelLoadError: as :func:`load_model`.
    """
    gate = directory / _GATE_DIR
    return load_model(gate if gate.is_dir() else directory)


def _read_split(directory: Path) -> tuple[tuple[Example, ...], frozenset[str]]:
    """The held-out examples and trained digests (absent in models saved before they were)."""
    held: list[Example] = []
    trained: frozenset[str] = frozenset()
    held_file, trained_file = directory / _HELD_OUT_FILE, directory / _TRAINED_FILE
    if held_file.is_file():
        for line in held_file.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                held.append(Example(str(row["text"]), str(row["label"])))
    if trained_file.is_file():
        trained = frozenset(x for x in trained_file.read_text("utf-8").split() if x)
    return tuple(held), trained


def _restore(document: dict[str, Any], blob: bytes) -> NLUModel:
    config = PipelineConfig.from_dict(document["config"])
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    tok_state = document["tokenizer"]
    tokenizer = None
    if tok_state:
        tokenizer = JiebaTokenizer(tok_state["user_words"], max_chars=tok_state["max_chars"])
    featurizers: list[Featurizer] = []
    for i, spec in enumerate(document["featurizers"]):
        step = next(c for c in config.pipeline if c.label == spec["name"])
        featurizer = _make_featurizer(spec["name"], step.name, dict(spec["params"]))
        prefix = f"featurizer{i}."
        featurizer.load_arrays(
            {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
        )
        featurizers.append(featurizer)
    clf_state = document["classifier"]
    classifier = LinearIntentClassifier(**clf_state["params"])
    classifier.labels = [str(x) for x in clf_state["labels"]]
    classifier.temperature = float(clf_state["temperature"])
    classifier.weights = np.ascontiguousarray(arrays["classifier.weights"], dtype=np.float32)
    classifier.bias = np.asarray(arrays["classifier.bias"], dtype=np.float32)
    dim = sum(f.dim for f in featurizers)
    if classifier.weights.shape != (dim, len(classifier.labels)):
        raise ValueError(
            f"weights have shape {classifier.weights.shape}, expected ({dim}, "
            f"{len(classifier.labels)})"
        )
    entities = EntityPipeline(
        frozenset(document["entities"]["enabled"]),
        DataEntityExtractor.from_state(document["entities"]["data"]),
    )
    thresholds = Thresholds(**document["thresholds"])
    core = _Core(
        tokenizer, featurizers, classifier, config.training.max_chars, _build_masker(config)
    )
    return NLUModel(
        core=core,
        entities=entities,
        config=config,
        thresholds=thresholds,
        version=str(document["version"]),
        metadata=dict(document["metadata"]),
    )


# ---------------------------------------------------------------------- training


def _user_words(data: TrainingData, hints: Hints | None) -> list[str]:
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


def _build_tokenizer(config: PipelineConfig, user_words: Sequence[str]) -> JiebaTokenizer | None:
    tokenizer = None
    for step in config.components(TOKENIZERS):
        try:
            tokenizer = JiebaTokenizer(user_words, **step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return tokenizer


def _build_core(config: PipelineConfig, tokenizer: JiebaTokenizer | None) -> _Core:
    featurizers = [
        _make_featurizer(c.label, c.name, c.params) for c in config.components(FEATURIZERS)
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
    return _Core(
        tokenizer, featurizers, classifier, config.training.max_chars, _build_masker(config)
    )


def _build_detector(config: PipelineConfig) -> ProblemDetector | None:
    for step in config.components(POSTPROCESSORS):
        try:
            return ProblemDetector(**step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return None


def _build_masker(config: PipelineConfig) -> SpanMasker | None:
    for step in config.components(PREPROCESSORS):
        try:
            return SpanMasker(**step.params)
        except TypeError as e:
            raise ConfigError(f"{step.label}: {e}") from e
    return None


def example_digest(text: str) -> str:
    """A short, stable fingerprint of an example's text (normalised, whitespace-trimmed).

    Identical texts (after normalisation) share a digest; models record the digests of the
    examples they were trained on so that versions can be compared on examples neither saw.
    """
    return hashlib.sha256(normalize(text).strip().encode("utf-8")).hexdigest()[:16]


def holdout_split(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split example indices into (train, held-out), stably across data versions.

    An example is held out when a hash of its text (salted with ``seed``) falls below
    ``fraction``, so whether an example is held out depends on its own text only: adding or
    removing other examples never moves it to the other side, and duplicate texts always land
    on the same side (no leakage between the parts). Every intent with at least two examples
    puts at least one into the held-out part and keeps at least one for training.
    """
    position: list[float] = []
    for example in examples:
        key = f"{seed}:{example_digest(example.text)}".encode()
        position.append(int(hashlib.sha256(key).hexdigest()[:12], 16) / float(1 << 48))
    by_intent: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        by_intent.setdefault(example.intent, []).append(i)
    held: set[int] = set()
    for idx in by_intent.values():
        inside = [i for i in idx if position[i] < fraction]
        texts = {example_digest(examples[i].text) for i in idx}
        if len(texts) < 2:
            inside = []  # one distinct text: train on it, nothing to hold out
        else:
            ordered = sorted(idx, key=lambda i: position[i])
            if not inside:
                # The lowest-hash text (all its duplicates) is held out.
                first = position[ordered[0]]
                inside = [i for i in idx if position[i] == first]
            elif len(inside) == len(idx):
                last = position[ordered[-1]]
                inside = [i for i in idx if position[i] != last]
        held.update(inside)
    train_idx = [i for i in range(len(examples)) if i not in held]
    return train_idx, sorted(held)


def choose_thresholds(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    clarify_precision: float,
    out_of_scope_quantile: float,
    n_intents: int,
) -> tuple[Thresholds, dict[str, object]]:
    """Set the thresholds from held-out predictions.

    ``clarify`` is the lowest confidence t such that the held-out predictions with confidence
    >= t are right at least ``clarify_precision`` of the time (clamped to [0.3, 0.9]).
    ``out_of_scope`` is the ``out_of_scope_quantile`` quantile of the confidences of correct
    held-out predictions (so about that share of right answers would be refused), capped at
    ``clarify`` and at 0.5 and floored at a uniform guess ``1 / n_intents``.

    Returns:
        The thresholds and a description of how they were set (for the model's metadata).
    """
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    default = Thresholds()
    if len(conf) == 0:
        return default, {"method": "defaults (no held-out data)"}
    order = np.argsort(-conf, kind="stable")
    cum_correct = np.cumsum(ok[order])
    precision_at = cum_correct / np.arange(1, len(conf) + 1)
    meets = np.nonzero(precision_at >= clarify_precision)[0]
    clarify_raw = float(conf[order][meets.max()]) if len(meets) else 1.0
    clarify = float(min(max(clarify_raw, 0.3), 0.9))
    uniform = 1.0 / max(n_intents, 1)
    oos_raw = float(np.quantile(conf[ok], out_of_scope_quantile)) if ok.any() else uniform
    oos = float(max(min(oos_raw, clarify, 0.5), uniform))
    accepted = conf >= clarify
    description: dict[str, object] = {
        "method": "held-out precision / quantile",
        "clarify_precision_target": clarify_precision,
        "clarify_raw": round(clarify_raw, 4),
        "out_of_scope_quantile": out_of_scope_quantile,
        "out_of_scope_raw": round(oos_raw, 4),
        "held_out_accepted_share": round(float(accepted.mean()), 4),
        "held_out_accepted_accuracy": round(float(ok[accepted].mean()), 4)
        if accepted.any()
        else None,
        "held_out_refused_share": round(float((conf < oos).mean()), 4),
    }
    return Thresholds(clarify=round(clarify, 4), out_of_scope=round(oos, 4)), description


def train(
    data: TrainingData,
    config: PipelineConfig | None = None,
    *,
    progress: Progress | None = None,
    version: str | None = None,
    hints: Hints | None = None,
) -> NLUModel:
    """Train a model.

    A part of the examples (``training.holdout_fraction``, chosen by :func:`holdout_split`)
    is held out: the model trained on the rest is scored on it to fit the confidence
    temperature, to set the thresholds (:func:`choose_thresholds`) and to record a held-out
    evaluation in the metadata; then, if ``training.refit_on_all``, the model is refitted on
    all examples. The model keeps the held-out examples (``held_out``) and the digests of the
    examples its weights were fitted on (``trained_on``) so versions can be compared fairly.

    Args:
        data: examples (at least two intents), synonyms, regexes and lookup tables.
        config: the pipeline; the packaged default when None.
        progress: called with (stage, fraction done in 0..1) as training advances.
        version: the model's version label; derived from the time and data when None.
        hints: registry names to add to the tokenizer's user dictionary.

    Returns:
        The trained model.

    Raises:
        TrainingDataError: fewer than two intents, or an empty example.
        ConfigError: the pipeline configuration is invalid.
    """
    from nlu.evaluation import report_from_predictions

    config = config or PipelineConfig.default()
    report = progress or _no_progress
    started = datetime.now(UTC)
    examples = [e for e in data.examples if e.text.strip()]
    intents = sorted({e.intent for e in examples})
    if len(intents) < 2:
        raise TrainingDataError(f"training needs at least two intents, got {intents}")
    report("tokenize", 0.0)
    core = _build_core(config, _build_tokenizer(config, _user_words(data, hints)))
    messages = [core.message(e.text) for e in examples]
    labels = [e.intent for e in examples]
    training = config.training
    train_idx, held_idx = holdout_split(examples, training.holdout_fraction, training.seed)
    report("fit", 0.3)
    x_train = core.fit([messages[i] for i in train_idx], [labels[i] for i in train_idx])
    held_metrics: dict[str, object] = {}
    thresholds = Thresholds()
    threshold_info: dict[str, object] = {"method": "defaults (no held-out data)"}
    if held_idx:
        report("calibrate", 0.6)
        held_gold = [labels[i] for i in held_idx]
        x_held = core.features([messages[i] for i in held_idx])
        scores = core.classifier.scores_many(x_held)
        core.classifier.fit_temperature(scores, held_gold)
        probs = core.classifier.probabilities(scores)
        predicted = [core.classifier.labels[int(j)] for j in probs.argmax(axis=1)]
        confidences = [float(p.max()) for p in probs]
        thresholds, threshold_info = choose_thresholds(
            confidences,
            [p == g for p, g in zip(predicted, held_gold, strict=True)],
            clarify_precision=training.clarify_precision,
            out_of_scope_quantile=training.out_of_scope_quantile,
            n_intents=len(intents),
        )
        held_report = report_from_predictions(
            [examples[i] for i in held_idx], core.classifier.labels, probs, thresholds
        )
        held_metrics = held_report.summary()
    final = core
    if training.refit_on_all and held_idx:
        report("refit", 0.8)
        # A fresh classifier on every example's features; the held-out-calibrated model is
        # kept as the gate. The featurizers (vocabulary, IDF) learnt on the training part are
        # shared: refitting them on all examples costs seconds and changes next to nothing.
        clf_step = config.components(CLASSIFIERS)[0]
        final = _Core(
            core.tokenizer,
            core.featurizers,
            LinearIntentClassifier(**clf_step.params),
            core.max_chars,
            core.masker,
        )
        final.classifier.fit(
            sparse.vstack([x_train, x_held], format="csr"),
            [labels[i] for i in train_idx] + held_gold,
        )
        final.classifier.temperature = core.classifier.temperature
    enabled = frozenset(c.name for c in config.components(EXTRACTORS))
    data_extractor = DataEntityExtractor.from_training_data(data)
    finished = datetime.now(UTC)
    digest = hashlib.sha256(
        "\n".join(f"{e.intent}\t{e.text}" for e in examples).encode("utf-8")
    ).hexdigest()
    metadata: dict[str, object] = {
        "trained_at": finished.isoformat(timespec="seconds"),
        "training_seconds": round((finished - started).total_seconds(), 2),
        "config": config.to_dict(),
        "n_examples": len(examples),
        "n_held_out": len(held_idx),
        "refit_on_all": bool(training.refit_on_all and held_idx),
        "examples_per_intent": {i: labels.count(i) for i in intents},
        "data_sha256": digest,
        "temperature": round(core.classifier.temperature, 4),
        "thresholds": threshold_info,
        "held_out": held_metrics,
        "n_features": sum(f.dim for f in final.featurizers),
    }
    report("done", 1.0)
    entities = EntityPipeline(enabled, data_extractor)
    name = version or f"{finished:%Y%m%d-%H%M%S}-{digest[:8]}"
    held_out = tuple(examples[i] for i in held_idx)
    gate = NLUModel(
        core=core,
        entities=entities,
        config=config,
        thresholds=thresholds,
        version=name,
        metadata=metadata,
        held_out=held_out,
        trained_on=frozenset(example_digest(examples[i].text) for i in train_idx),
    )
    if final is core:
        return gate
    return NLUModel(
        core=final,
        entities=entities,
        config=config,
        thresholds=thresholds,
        version=name,
        metadata=metadata,
        held_out=held_out,
        trained_on=frozenset(example_digest(e.text) for e in examples),
        gate=gate,
    )
