"""Evaluation: accuracy, macro-F1, per-intent metrics, confusions, cross-validation, PNG."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from nlu.types import Example, Thresholds, TrainingData

if TYPE_CHECKING:
    from nlu.config import PipelineConfig
    from nlu.model import NLUModel


@dataclass(frozen=True, slots=True)
class IntentMetrics:
    """Precision, recall, F1 and support (gold count) of one intent."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One evaluated example.

    Attributes:
        fallback: what the dialogue would do instead of acting on ``predicted``:
            ``"out_of_scope"`` below the out-of-scope threshold, ``"clarify"`` below the
            clarify threshold, None when the prediction would be acted on.
    """

    text: str
    gold: str
    predicted: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    fallback: str | None = None

    @property
    def correct(self) -> bool:
        """The top intent is the gold intent."""
        return self.gold == self.predicted


@dataclass(slots=True)
class EvalReport:
    """Evaluation of a model on labelled examples (top-intent predictions)."""

    labels: list[str]
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_intent: dict[str, IntentMetrics]
    confusion: list[list[int]]
    predictions: list[PredictionRecord] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def misclassified(self) -> list[PredictionRecord]:
        """Examples whose top intent is wrong."""
        return [p for p in self.predictions if not p.correct]

    def confused_pairs(self, top: int = 10) -> list[tuple[str, str, int]]:
        """The most frequent (gold, predicted) mistakes, most frequent first."""
        pairs = Counter((p.gold, p.predicted) for p in self.predictions if not p.correct)
        return [(g, p, n) for (g, p), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))][
            :top
        ]

    def fallback_rates(self) -> dict[str, float]:
        """Share of examples that would be acted on, clarified, or refused as out of scope."""
        n = max(len(self.predictions), 1)
        counts = Counter(p.fallback for p in self.predictions)
        accepted = [p for p in self.predictions if p.fallback is None]
        return {
            "accepted": round(counts[None] / n, 4),
            "clarify": round(counts["clarify"] / n, 4),
            "out_of_scope": round(counts["out_of_scope"] / n, 4),
            "accepted_accuracy": round(sum(p.correct for p in accepted) / max(len(accepted), 1), 4),
        }

    def summary(self) -> dict[str, object]:
        """Metrics without the per-example lists (small enough for model metadata)."""
        return {
            "n": len(self.predictions),
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "weighted_f1": round(self.weighted_f1, 4),
            "per_intent": {
                name: {
                    "precision": round(m.precision, 4),
                    "recall": round(m.recall, 4),
                    "f1": round(m.f1, 4),
                    "support": m.support,
                }
                for name, m in self.per_intent.items()
            },
            "confused_pairs": [list(p) for p in self.confused_pairs(5)],
            "fallback": self.fallback_rates(),
            **self.extra,
        }

    def to_dict(self) -> dict[str, object]:
        """Everything, JSON-serialisable."""
        out = self.summary()
        out["labels"] = self.labels
        out["confusion"] = self.confusion
        out["confused_pairs"] = [list(p) for p in self.confused_pairs(20)]
        out["misclassified"] = [_record_dict(p) for p in self.misclassified]
        out["predictions"] = [_record_dict(p) for p in self.predictions]
        return out


def _record_dict(p: PredictionRecord) -> dict[str, object]:
    return {
        "text": p.text,
        "gold": p.gold,
        "predicted": p.predicted,
        "confidence": p.confidence,
        "ranking": [list(r) for r in p.ranking],
        "fallback": p.fallback,
    }


def metrics_from_labels(
    gold: Sequence[str], predicted: Sequence[str]
) -> tuple[float, float, float, dict[str, IntentMetrics], list[str], list[list[int]]]:
    """Accuracy, macro-F1 and weighted F1 over gold intents, per-intent metrics, confusion.

    Macro-F1 averages over the intents that occur in ``gold`` (as scikit-learn does with
    ``labels=`` set to the gold labels), so a spurious prediction of an intent absent from
    the gold data lowers precision of nothing but still counts as an error for its example.
    """
    labels = sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    per_intent: dict[str, IntentMetrics] = {}
    for label in sorted(set(gold)):
        i = index[label]
        tp = int(matrix[i, i])
        predicted_n = int(matrix[:, i].sum())
        support = int(matrix[i, :].sum())
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = IntentMetrics(precision, recall, f1, support)
    n = max(len(gold), 1)
    accuracy = float(np.trace(matrix)) / n
    macro = float(np.mean([m.f1 for m in per_intent.values()])) if per_intent else 0.0
    weighted = sum(m.f1 * m.support for m in per_intent.values()) / n
    return accuracy, macro, weighted, per_intent, labels, matrix.tolist()


def report_from_predictions(
    examples: Sequence[Example],
    labels: Sequence[str],
    probs: npt.NDArray[np.float64],
    thresholds: Thresholds,
    ranking_size: int = 5,
) -> EvalReport:
    """Build a report from calibrated probabilities (rows: examples, columns: ``labels``)."""
    records: list[PredictionRecord] = []
    for example, row in zip(examples, probs, strict=True):
        order = np.argsort(-row, kind="stable")[:ranking_size]
        ranking = tuple((labels[int(j)], round(float(row[j]), 4)) for j in order)
        confidence = float(row[order[0]])
        fallback = None
        if confidence < thresholds.out_of_scope:
            fallback = "out_of_scope"
        elif confidence < thresholds.clarify:
            fallback = "clarify"
        records.append(
            PredictionRecord(
                example.text, example.intent, ranking[0][0], round(confidence, 4), ranking, fallback
            )
        )
    accuracy, macro, weighted, per_intent, all_labels, confusion = metrics_from_labels(
        [r.gold for r in records], [r.predicted for r in records]
    )
    return EvalReport(all_labels, accuracy, macro, weighted, per_intent, confusion, records)


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
    from nlu.training import train

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


_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in _CJK_FONTS:
        if name in available:
            return name
    for name in sorted(available):
        if "CJK" in name or "Han" in name or "Hei" in name:
            return name
    return None


def confusion_png(report: EvalReport, title: str = "Intent confusion") -> bytes:
    """Render the confusion matrix (rows gold, columns predicted) as PNG bytes.

    Uses a CJK font when one is installed so Chinese intent names render; otherwise labels
    that the default font cannot draw may show as boxes.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = _cjk_font()
    labels = report.labels
    matrix = np.array(report.confusion, dtype=np.float64)
    size = max(4.0, 0.55 * len(labels) + 2.5)
    with plt.rc_context():
        if font:
            plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
            plt.rcParams["axes.unicode_minus"] = False
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
        try:
            row_sums = matrix.sum(axis=1, keepdims=True)
            shares = np.divide(matrix, row_sums, out=np.zeros_like(matrix), where=row_sums > 0)
            image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
            ax.set_yticks(range(len(labels)), labels)
            ax.set_xlabel("predicted")
            ax.set_ylabel("gold")
            ax.set_title(
                f"{title} (accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f})"
            )
            for i in range(len(labels)):
                for j in range(len(labels)):
                    if matrix[i, j]:
                        color = "white" if shares[i, j] > 0.5 else "black"
                        ax.text(
                            j,
                            i,
                            str(int(matrix[i, j])),
                            ha="center",
                            va="center",
                            color=color,
                            fontsize=8,
                        )
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110)
        finally:
            plt.close(fig)
    return buffer.getvalue()


def write_confusion_png(report: EvalReport, path: Path, title: str = "Intent confusion") -> None:
    """Write :func:`confusion_png` to a file."""
    path.write_bytes(confusion_png(report, title))
