"""The trained NLU model: parse, save, load (training: nlu.training; parts: nlu.pipeline)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.components.classifier import LinearIntentClassifier
from nlu.components.featurizers import (
    Featurizer,
)
from nlu.components.lookup import DataEntityExtractor
from nlu.components.tokenizer import JiebaTokenizer
from nlu.config import (
    PipelineConfig,
)
from nlu.entities import EntityPipeline
from nlu.errors import ModelLoadError, NLUError
from nlu.pipeline import Core, build_detector, build_masker, make_featurizer
from nlu.safety import hazards_in
from nlu.text import normalize
from nlu.types import Example, Hints, IntentScore, Parse, Thresholds

FORMAT = "minhu-nlu/1"
OUT_OF_SCOPE = "out_of_scope"
_MODEL_FILE = "model.json"
_ARRAYS_FILE = "arrays.npz"
_HELD_OUT_FILE = "heldout.jsonl"
_TRAINED_FILE = "trained.txt"
_GATE_DIR = "gate"
_MAX_CONFIDENCE = 0.999999

Progress = Callable[[str, float], None]


class NLUModel:
    """A trained pipeline: parses messages into intents with confidences and entities.

    Parsing is pure CPU work with no I/O, and never raises for odd input.
    """

    def __init__(
        self,
        *,
        core: Core,
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
        self._detector = build_detector(config)

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
        featurizer = make_featurizer(spec["name"], step.name, dict(spec["params"]))
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
    core = Core(tokenizer, featurizers, classifier, config.training.max_chars, build_masker(config))
    return NLUModel(
        core=core,
        entities=entities,
        config=config,
        thresholds=thresholds,
        version=str(document["version"]),
        metadata=dict(document["metadata"]),
    )


# ---------------------------------------------------------------------- training
