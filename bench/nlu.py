"""NLU benchmark: the engine against a plain TF-IDF + LinearSVC baseline, in the same run.

    .venv/bin/python bench/nlu.py [--data ../shared/data/tipdm2020c] [--config FILE]
                                  [--modes full,title] [--skip-cv] [--skip-tipdm]
                                  [--latency-n 774]

1. tipdm2020c (real citizen messages, 7 labels; read from ../shared, never copied here):
   train on train.jsonl, report dev.jsonl macro-F1 / accuracy for full text (title + text)
   and title only; training time, peak memory (max RSS of a fresh process that trains and
   evaluates), model size on disk, parse latency p50/p99 one message at a time on one core
   (entities included), for the engine and the baseline, and their ratio.
2. 5-fold cross-validation per intent on the project's own nlu/data (when present), and the
   held-out set tests/data/nlu_holdout.yml (when present).
Each system runs in its own spawned process pinned to one BLAS thread.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "tipdm2020c"


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _split(data_dir: Path, mode: str) -> tuple[list[str], list[str], list[str], list[str]]:
    sys.path.insert(0, str(ROOT))
    from nlu.loading import jsonl_row_text

    train, dev = _rows(data_dir / "train.jsonl"), _rows(data_dir / "dev.jsonl")
    if mode == "title":
        # Title only: the rows that have a separate title, trained and tested on titles.
        train = [r for r in train if r.get("title")]
        dev = [r for r in dev if r.get("title")]
        pick = lambda r: str(r["title"])  # noqa: E731
    else:
        pick = jsonl_row_text
    return (
        [pick(r) for r in train],
        [str(r["label"]) for r in train],
        [pick(r) for r in dev],
        [str(r["label"]) for r in dev],
    )


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _run_engine(
    data_dir: Path, mode: str, config_path: str | None, latency_n: int
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import nlu

    x_train, y_train, x_dev, y_dev = _split(data_dir, mode)
    data = nlu.TrainingData([nlu.Example(t, y) for t, y in zip(x_train, y_train, strict=True)])
    config = nlu.PipelineConfig.from_yaml(Path(config_path)) if config_path else None
    started, cpu_started = time.perf_counter(), time.process_time()
    model = nlu.train(data, config, version=f"bench-{mode}")
    train_s = time.perf_counter() - started
    train_cpu_s = time.process_time() - cpu_started
    report = nlu.evaluate(model, [nlu.Example(t, y) for t, y in zip(x_dev, y_dev, strict=True)])
    with tempfile.TemporaryDirectory() as tmp:
        # The served model; a stored version also keeps its gate (the pre-refit model).
        model.save(Path(tmp) / "m", include_gate=False)
        size = _dir_size(Path(tmp) / "m")
        model.save(Path(tmp) / "v")
        version_size = _dir_size(Path(tmp) / "v")
        started = time.perf_counter()
        nlu.load_model(Path(tmp) / "m")
        load_s = time.perf_counter() - started
    for text in x_dev[:20]:  # warm caches (OpenCC, regexes) before timing
        model.parse(text)
    seconds, cpu = [], []
    for text in x_dev[:latency_n]:
        started, cpu_started = time.perf_counter(), time.thread_time()
        model.parse(text)
        cpu.append(time.thread_time() - cpu_started)
        seconds.append(time.perf_counter() - started)
    p50, p99 = _percentiles(seconds)
    cpu_p50, cpu_p99 = _percentiles(cpu)
    return {
        "macro_f1": report.macro_f1,
        "accuracy": report.accuracy,
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "load_s": load_s,
        "p50_ms": p50,
        "p99_ms": p99,
        "cpu_p50_ms": cpu_p50,
        "cpu_p99_ms": cpu_p99,
        "size_mb": size / 1e6,
        "version_mb": version_size / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "classifier": next(
            c.to_dict() for c in model.config.pipeline if c.name == "linear_classifier"
        ),
        "per_intent": {k: round(v.f1, 4) for k, v in report.per_intent.items()},
        "thresholds": [model.thresholds.clarify, model.thresholds.out_of_scope],
        "fallback": report.fallback_rates(),
        "n_dev": len(x_dev),
        "n_train": len(x_train),
    }


def _run_baseline(
    data_dir: Path, mode: str, config_path: str | None, latency_n: int
) -> dict[str, Any]:
    del config_path
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    x_train, y_train, x_dev, y_dev = _split(data_dir, mode)
    started, cpu_started = time.perf_counter(), time.process_time()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2))
    classifier = LinearSVC().fit(vectorizer.fit_transform(x_train), y_train)
    train_s = time.perf_counter() - started
    train_cpu_s = time.process_time() - cpu_started
    predicted = classifier.predict(vectorizer.transform(x_dev))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline.pkl"
        path.write_bytes(pickle.dumps((vectorizer, classifier)))
        size = path.stat().st_size
    for text in x_dev[:20]:
        classifier.decision_function(vectorizer.transform([text]))
    seconds, cpu = [], []
    for text in x_dev[:latency_n]:
        started, cpu_started = time.perf_counter(), time.thread_time()
        classifier.decision_function(vectorizer.transform([text]))
        cpu.append(time.thread_time() - cpu_started)
        seconds.append(time.perf_counter() - started)
    p50, p99 = _percentiles(seconds)
    cpu_p50, cpu_p99 = _percentiles(cpu)
    return {
        "macro_f1": f1_score(y_dev, predicted, average="macro"),
        "accuracy": accuracy_score(y_dev, predicted),
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "load_s": float("nan"),
        "p50_ms": p50,
        "p99_ms": p99,
        "cpu_p50_ms": cpu_p50,
        "cpu_p99_ms": cpu_p99,
        "size_mb": size / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "n_dev": len(x_dev),
        "n_train": len(x_train),
    }


def _child(target: str, args: tuple[Any, ...], queue: Any) -> None:
    # One core: BLAS threads must be pinned before numpy is imported in this process.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    queue.put(globals()[target](*args))


def _isolated(target: str, *args: Any) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def _tipdm(data_dir: Path, config: str | None, latency_n: int, modes: list[str]) -> None:
    if not (data_dir / "train.jsonl").is_file():
        print(f"== tipdm2020c: skipped ({data_dir} not found)")
        return
    print(f"== tipdm2020c ({data_dir})")
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (wall-clock times include waiting for a core; CPU times do not)"
    )
    rows = [
        ("macro-F1 (dev)", "macro_f1", "{:.4f}"),
        ("accuracy (dev)", "accuracy", "{:.4f}"),
        ("training time s", "train_s", "{:.1f}"),
        ("training CPU s", "train_cpu_s", "{:.1f}"),
        ("parse p50 ms", "p50_ms", "{:.2f}"),
        ("parse p99 ms", "p99_ms", "{:.2f}"),
        ("parse CPU p50 ms", "cpu_p50_ms", "{:.2f}"),
        ("parse CPU p99 ms", "cpu_p99_ms", "{:.2f}"),
        ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
        ("model size MB", "size_mb", "{:.2f}"),
    ]
    for mode in modes:
        engine = _isolated("_run_engine", data_dir, mode, config, latency_n)
        baseline = _isolated("_run_baseline", data_dir, mode, config, latency_n)
        print(
            f"\n-- {mode} text: train n={engine['n_train']}, dev n={engine['n_dev']} "
            f"(engine model loads in {engine['load_s']:.2f} s; a stored version with its gate "
            f"takes {engine['version_mb']:.2f} MB)"
        )
        print(f"engine classifier: {engine['classifier']}")
        print(f"{'metric':<18}{'engine':>10}{'baseline':>10}{'ratio':>8}{'delta':>9}")
        for label, key, fmt in rows:
            e, b = engine[key], baseline[key]
            ratio = e / b if b else float("nan")
            delta = e - b
            print(f"{label:<18}{fmt.format(e):>10}{fmt.format(b):>10}{ratio:>8.2f}{delta:>+9.4f}")
        print(f"engine per-intent F1: {json.dumps(engine['per_intent'], ensure_ascii=False)}")
        print(
            f"engine thresholds (clarify, out_of_scope): {engine['thresholds']}; "
            f"dev fallback shares: {engine['fallback']}"
        )


def _own_data(config: str | None, skip_cv: bool) -> None:
    sys.path.insert(0, str(ROOT))
    import nlu

    directory = ROOT / "nlu" / "data"
    if not any(directory.glob("*.yml")):
        print("\n== nlu/data: skipped (no training data)")
        return
    data = nlu.load_training_data(directory)
    pipeline = nlu.PipelineConfig.from_yaml(Path(config)) if config else None
    print(f"\n== nlu/data: {len(data.examples)} examples, {len(data.intents)} intents")
    if not skip_cv:
        cv = nlu.cross_validate(data, folds=5, config=pipeline)
        report = cv.report
        f1s = cv.fold_macro_f1
        print(
            f"5-fold CV: macro-F1 {report.macro_f1:.4f} (folds {statistics.mean(f1s):.4f} "
            f"± {statistics.pstdev(f1s):.4f}), accuracy {report.accuracy:.4f}"
        )
        print(f"{'intent':<28}{'precision':>10}{'recall':>8}{'F1':>8}{'support':>9}")
        for name, m in sorted(report.per_intent.items(), key=lambda kv: kv[1].f1):
            print(f"{name:<28}{m.precision:>10.3f}{m.recall:>8.3f}{m.f1:>8.3f}{m.support:>9d}")
        print("most confused (gold -> predicted, n):", report.confused_pairs(5))
    holdout = ROOT / "tests" / "data" / "nlu_holdout.yml"
    if holdout.is_file():
        model = nlu.train(data, pipeline, version="bench-own")
        held = nlu.evaluate(model, nlu.load_training_data(holdout).examples)
        print(
            f"tests/data/nlu_holdout.yml: n={len(held.predictions)} macro-F1 "
            f"{held.macro_f1:.4f} accuracy {held.accuracy:.4f}; fallback {held.fallback_rates()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", help="pipeline YAML (default: nlu/config/default.yml)")
    parser.add_argument("--skip-cv", action="store_true", help="skip CV on nlu/data")
    parser.add_argument("--skip-tipdm", action="store_true")
    parser.add_argument("--latency-n", type=int, default=774, help="dev messages to time")
    parser.add_argument("--modes", default="full,title", help="tipdm modes: full, title")
    args = parser.parse_args()
    if not args.skip_tipdm:
        _tipdm(args.data, args.config, args.latency_n, args.modes.split(","))
    _own_data(args.config, args.skip_cv)


if __name__ == "__main__":
    main()
