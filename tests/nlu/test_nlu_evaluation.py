"""Evaluation reports, cross-validation and the confusion-matrix picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlu


@pytest.fixture(scope="module")
def report(mini_model: nlu.NLUModel) -> nlu.EvalReport:
    examples = [
        nlu.Example("电梯又坏了", "report_elevator"),
        nlu.Example("电梯门关不上了", "report_elevator"),
        nlu.Example("楼上装修吵死了", "report_noise"),
        nlu.Example("车停在消防通道", "report_parking"),
        nlu.Example("卫生间漏水", "report_leak"),
        nlu.Example("你好", "greet"),
        nlu.Example("电梯坏了", "report_noise"),  # deliberately mislabelled
    ]
    return nlu.evaluate(mini_model, examples)


def test_report_counts_the_mislabelled_example_when_evaluating(report: nlu.EvalReport) -> None:
    assert report.accuracy == pytest.approx(6 / 7)
    assert [(p.gold, p.predicted) for p in report.misclassified] == [
        ("report_noise", "report_elevator")
    ]
    assert report.confused_pairs() == [("report_noise", "report_elevator", 1)]
    noise = report.per_intent["report_noise"]
    assert (noise.precision, noise.recall, noise.support) == (1.0, 0.5, 2)
    assert report.per_intent["report_elevator"].precision == pytest.approx(2 / 3)


def test_report_serialises_predictions_with_rankings_when_converted(
    report: nlu.EvalReport,
) -> None:
    data = report.to_dict()
    json.dumps(data, ensure_ascii=False)
    first = data["predictions"][0]  # type: ignore[index]
    assert {"text", "gold", "predicted", "confidence", "ranking", "fallback"} <= set(first)
    assert data["macro_f1"] == pytest.approx(report.macro_f1, abs=1e-4)


def test_cross_validation_predicts_every_example_once_when_run(
    mini_data: nlu.TrainingData,
) -> None:
    cv = nlu.cross_validate(mini_data, folds=3)
    assert len(cv.report.predictions) == len(mini_data.examples)
    assert len(cv.fold_macro_f1) == 3
    assert set(cv.per_intent) == set(mini_data.intents)
    assert cv.report.accuracy > 0.5  # far above chance (1/6) on this easy data


def test_confusion_png_is_a_png_when_written(report: nlu.EvalReport, tmp_path: Path) -> None:
    path = tmp_path / "confusion.png"
    nlu.write_confusion_png(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
