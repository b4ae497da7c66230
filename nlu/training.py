"""Training: the held-out split, thresholds from held-out predictions, fit and refit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

from nlu.components.classifier import LinearIntentClassifier
from nlu.components.lookup import DataEntityExtractor
from nlu.config import (
    CLASSIFIERS,
    EXTRACTORS,
    PipelineConfig,
)
from nlu.entities import EntityPipeline
from nlu.errors import TrainingDataError
from nlu.evaluation import report_from_predictions
from nlu.model import NLUModel, Progress
from nlu.pipeline import Core, build_core, build_tokenizer, user_words
from nlu.text import normalize
from nlu.types import Example, Hints, Thresholds, TrainingData


def _no_progress(stage: str, fraction: float) -> None:
    del stage, fraction


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


def intent_digests(examples: Sequence[Example]) -> dict[str, str]:
    """One hash per intent over its example texts: two models whose hashes differ for an
    intent were trained on different examples of it (a *changed* intent)."""
    by_intent: dict[str, list[str]] = {}
    for e in examples:
        by_intent.setdefault(e.intent, []).append(e.text)
    return {
        intent: hashlib.sha256("\n".join(sorted(rows)).encode("utf-8")).hexdigest()[:16]
        for intent, rows in sorted(by_intent.items())
    }


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
    config = config or PipelineConfig.default()
    report = progress or _no_progress
    started = datetime.now(UTC)
    examples = [e for e in data.examples if e.text.strip()]
    intents = sorted({e.intent for e in examples})
    if len(intents) < 2:
        raise TrainingDataError(f"training needs at least two intents, got {intents}")
    report("tokenize", 0.0)
    core = build_core(config, build_tokenizer(config, user_words(data, hints)))
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
        final = Core(
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
        "intent_digests": intent_digests(examples),
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
