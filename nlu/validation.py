"""Running a model over labelled examples: evaluation and k-fold cross-validation.

Apart from ``nlu/evaluation.py`` (the metrics and reports), which ``nlu/model.py`` uses while
training: this module imports the model, so the metrics never import it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nlu.config import PipelineConfig
from nlu.evaluation import (
    EvalReport,
    IntentMetrics,
    PredictionRecord,
    metrics_from_labels,
    report_from_predictions,
)
from nlu.model import NLUModel
from nlu.training import train
from nlu.types import Example, TrainingData


def evaluate(model: NLUModel, examples: Sequence[Example]) -> EvalReport:
    """Evaluate a model's top intent on labelled examples.

    Args:
        model: a trained model.
        examples: labelled examples (intents unknown to the model count as errors).

    Returns:
        Accuracy, macro-F1, per-intent precision/recall/F1/support, confusion matrix,
        most confused pairs, misclassified examples and per-example predictions with the
        confidence, the ranking, and the fallback the thresholds would trigger.
    """
    probs = model.intent_probabilities([e.text for e in examples])
    return report_from_predictions(examples, model.intents, probs, model.thresholds)


@dataclass(slots=True)
class CrossValidationReport:
    """Out-of-fold evaluation: every example predicted by a model that did not see it."""

    folds: int
    report: EvalReport
    fold_macro_f1: list[float]

    @property
    def per_intent(self) -> dict[str, IntentMetrics]:
        """Per-intent metrics over all out-of-fold predictions."""
        return self.report.per_intent

    def to_dict(self) -> dict[str, object]:
        """Summary with per-fold macro-F1 (mean and standard deviation)."""
        out = self.report.summary()
        out["folds"] = self.folds
        out["fold_macro_f1"] = [round(f, 4) for f in self.fold_macro_f1]
        out["fold_macro_f1_mean"] = round(float(np.mean(self.fold_macro_f1)), 4)
        out["fold_macro_f1_std"] = round(float(np.std(self.fold_macro_f1)), 4)
        return out


def stratified_folds(labels: Sequence[str], folds: int, seed: int = 13) -> list[int]:
    """Assign each example a fold so every intent is spread evenly (deterministic)."""
    rng = np.random.default_rng(seed)
    assignment = [0] * len(labels)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        idx = by_label[label]
        for rank, j in enumerate(rng.permutation(len(idx))):
            assignment[idx[int(j)]] = (rank + offset) % folds
        offset += len(idx)
    return assignment


def cross_validate(
    data: TrainingData,
    folds: int = 5,
    config: PipelineConfig | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> CrossValidationReport:
    """K-fold cross-validation with stratified folds.

    Args:
        data: the training data.
        folds: number of folds (at least 2).
        config: pipeline configuration; the default when None.
        progress: called with ("fold i/k", fraction done).

    Returns:
        Out-of-fold metrics per intent plus each fold's macro-F1.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least two folds")
    examples = [e for e in data.examples if e.text.strip()]
    assignment = stratified_folds([e.intent for e in examples], folds)
    records: list[PredictionRecord] = []
    fold_f1: list[float] = []
    for k in range(folds):
        if progress:
            progress(f"fold {k + 1}/{folds}", k / folds)
        train_part = [e for e, f in zip(examples, assignment, strict=True) if f != k]
        test_part = [e for e, f in zip(examples, assignment, strict=True) if f == k]
        if not test_part:
            continue
        fold_data = TrainingData(train_part, data.synonyms, data.regexes, data.lookups)
        model = train(fold_data, config, version=f"cv-{k}")
        fold_report = evaluate(model, test_part)
        fold_f1.append(fold_report.macro_f1)
        records.extend(fold_report.predictions)
    if progress:
        progress("done", 1.0)
    accuracy, macro, weighted, per_intent, labels, confusion = metrics_from_labels(
        [r.gold for r in records], [r.predicted for r in records]
    )
    report = EvalReport(labels, accuracy, macro, weighted, per_intent, confusion, records)
    return CrossValidationReport(folds, report, fold_f1)
