"""`minhu nlu …`: train, evaluate, cross-validate, parse, import/export Rasa YAML, versions.

The training data lives in the database (the console edits it there). ``nlu/data`` (or
``MINHU_NLU_DATA``) is only the seed loaded into a database that has none; ``train``, ``cv``,
``export`` and ``import`` work against the database, and files only when named (``--data``
to read one, ``--into``/``--out`` to write one).

Other tools script these commands: flags and the ``--json`` output (one JSON object on the
last line of stdout) are a contract.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from bot.cli_common import fail, load_settings
from bot.config import Settings

if TYPE_CHECKING:  # importing nlu (numpy, scikit-learn) takes seconds: only when a command needs it
    import nlu

nlu_app = typer.Typer(help="Train, evaluate and inspect the NLU.", no_args_is_help=True)

T = TypeVar("T")
PACKAGED_DATA = Path(__file__).resolve().parent.parent / "nlu" / "data"


def _seed_path(settings: Settings) -> Path:
    return settings.nlu_data or PACKAGED_DATA


def _with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(store)`` against the migrated database whose training data is seeded."""
    from handlers import intent_service
    from handlers.ports import SystemClock
    from storage.db import Database
    from storage.errors import StorageError
    from storage.repositories import SqlStore

    async def main() -> T:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            store = SqlStore(database)
            if await intent_service.is_empty(store):
                seed = _seed_path(settings)
                written = await intent_service.seed(
                    store, SystemClock(), _load_data(seed), source=seed.name
                )
                if written is not None:
                    typer.echo(
                        f"数据库里还没有训练数据，已从 {seed} 载入 / seeded the database from "
                        f"{seed}: {written[0]} intents, {written[1]} examples",
                        err=True,
                    )
            return await work(store)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except StorageError as e:
        raise fail(f"数据库错误 / database error: {e}", 2) from e


def _database_data(settings: Settings) -> nlu.TrainingData:
    """Everything training uses: the database's intents, examples and tables."""
    from handlers.intent_service import training_data

    async def read(store: Any) -> nlu.TrainingData:
        async with store.unit() as uow:
            return await training_data(uow)

    return _with_store(settings, read)


def _training(data: Path | None, settings: Settings) -> tuple[nlu.TrainingData, str]:
    """The named file, else the database's training data; and where it came from."""
    if data is not None:
        return _load_data(data), str(data)
    return _database_data(settings), "the database"


def _load_data(path: Path) -> nlu.TrainingData:
    import nlu

    try:
        return nlu.load_training_data(path)
    except nlu.NLUError as e:
        raise fail(f"训练数据错误 / bad training data: {e}", 2) from e


def _load_config(config: Path | None) -> nlu.PipelineConfig | None:
    import nlu

    try:
        return nlu.PipelineConfig.from_yaml(config) if config else None
    except nlu.NLUError as e:
        raise fail(f"pipeline config error: {e}", 2) from e


def _repo(settings: Settings) -> Any:
    from bot.container import object_store
    from bot.nlu_runtime import ModelRepository
    from storage.objects import S3ObjectStore

    shared = object_store(settings) if settings.s3 is not None else None
    if isinstance(shared, S3ObjectStore):
        shared.ensure_bucket()  # the one-shot migrate job trains into a fresh MinIO
    return ModelRepository(
        settings.models_path,
        tolerance=settings.admin.activation_tolerance,
        floor=settings.admin.intent_f1_floor,
        shared=shared,
    )


@contextmanager
def _progress_bar(label: str, quiet: bool = False) -> Iterator[Callable[[str, float], None]]:
    """A rich progress bar on stderr (stdout stays clean for --json)."""
    if quiet:
        yield lambda stage, fraction: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        yield progress


def _metrics_line(metrics: dict[str, Any]) -> str:
    if not metrics:
        return "no held-out evaluation"
    return (
        f"held-out n={metrics.get('n')} accuracy {metrics.get('accuracy', 0):.4f} "
        f"macro-F1 {metrics.get('macro_f1', 0):.4f}"
    )


# --- train ---------------------------------------------------------------------------------


@nlu_app.command("train")
def nlu_train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="train on this Rasa YAML file or directory, or JSONL with text,label, "
            "instead of the database's training data"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write the model to this directory (no version stored)")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="pipeline config YAML")] = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="do nothing when a model is active")
    ] = False,
    activate: Annotated[
        bool,
        typer.Option(help="activate the new version unless it scores worse or has weak intents"),
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="activate even if refused (needs --reason)")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the history)")] = None,
) -> None:
    """Train a model on the database's training data (or --data) and store it as a version.

    A database without training data is seeded from nlu/data (or MINHU_NLU_DATA) first.
    Without --out the model is stored as a new version with its held-out evaluation and
    activated unless it scores worse than the active model on held-out examples, or one of
    its new or changed intents scores below the F1 floor on its own held-out examples.
    """
    import nlu
    from bot.admin.training import evaluate_version, write_artefacts
    from bot.nlu_runtime import ActivationRefused

    settings = load_settings()
    repo = _repo(settings)
    if if_missing and out is None and repo.active_version():
        typer.echo(f"model {repo.active_version()} is active; not training (--if-missing)")
        return
    if force and not reason:
        raise fail("--force needs --reason", 2)
    training, source = _training(data, settings)
    pipeline = _load_config(config)
    typer.echo(
        f"training on {source}: {len(training.examples)} examples, {len(training.intents)} intents",
        err=True,
    )
    try:
        if out is not None:
            with _progress_bar("training") as progress:
                model = nlu.train(training, pipeline, progress=progress, version=out.name)
            model.save(out)
            held = model.metadata.get("held_out")
            typer.echo(
                f"model written to {out} ({_metrics_line(held if isinstance(held, dict) else {})})"
            )
            return
        with _progress_bar("training") as progress:
            outcome = repo.train_version(
                training, config=pipeline, progress=progress, activate=False
            )
    except nlu.NLUError as e:
        raise fail(f"训练失败 / training failed: {e}", 2) from e
    stored = outcome.version
    try:  # the console's evaluation page for this version, as if it was trained there
        evaluation, report = evaluate_version(repo, stored.version)
        write_artefacts(stored.path, training, evaluation, report)
    except nlu.NLUError as e:
        typer.echo(f"no evaluation report for {stored.version}: {e}", err=True)
    typer.echo(
        f"stored {stored.version}: {stored.n_examples} examples, {len(stored.intents)} intents; "
        f"{_metrics_line(stored.metrics)} (its own held-out examples); "
        f"thresholds {stored.thresholds}"
    )
    if not activate:
        typer.echo(f"not activated (--no-activate): minhu nlu activate {stored.version}")
        return
    previous = repo.active_version()
    try:
        entry = repo.activate(stored.version, force=force, reason=reason or "trained")
    except ActivationRefused as e:
        if e.comparison is not None:
            typer.echo(e.comparison.describe())
        typer.echo(
            f"NOT activated: {_refusal(e, previous)}. Activate anyway: "
            f'minhu nlu activate {stored.version} --force --reason "..."'
        )
        return
    except nlu.NLUError as e:
        raise fail(f"启用失败 / activation failed: {e}", 2) from e
    if entry.comparison:
        typer.echo(_describe(entry.comparison))
    typer.echo(f"activated {stored.version}; running services swap it in within seconds")


def _refusal(e: Any, previous: str | None) -> str:
    comparison = e.comparison
    if comparison is not None and not comparison.worse and comparison.weak:
        names = ", ".join(w.intent for w in comparison.weak)
        return (
            f"new or changed intents score below the F1 floor {comparison.floor:.2f} on their "
            f"held-out examples ({names})"
        )
    return f"it scores worse than {previous}"


# --- eval / cv -----------------------------------------------------------------------------


def _load_model(model: Path | None, settings: Settings) -> nlu.NLUModel:
    import nlu

    try:
        return nlu.load_model(model) if model else _repo(settings).load()
    except nlu.NLUError as e:
        raise fail(str(e), 2) from e


def _print_report(report: nlu.EvalReport, title: str) -> None:
    typer.echo(
        f"{title}: n={len(report.predictions)} accuracy {report.accuracy:.4f} "
        f"macro-F1 {report.macro_f1:.4f} weighted-F1 {report.weighted_f1:.4f}"
    )
    typer.echo(f"{'intent':<28}{'precision':>10}{'recall':>8}{'F1':>8}{'support':>9}")
    for name, m in sorted(report.per_intent.items(), key=lambda kv: kv[1].f1):
        typer.echo(f"{name:<28}{m.precision:>10.3f}{m.recall:>8.3f}{m.f1:>8.3f}{m.support:>9d}")
    pairs = report.confused_pairs(10)
    if pairs:
        typer.echo("most confused (gold -> predicted: n):")
        for gold, predicted, n in pairs:
            typer.echo(f"  {gold} -> {predicted}: {n}")
    if report.predictions:
        typer.echo(f"fallback shares at the model's thresholds: {report.fallback_rates()}")


def _write_outputs(report: nlu.EvalReport, out_dir: Path, title: str) -> dict[str, str]:
    import nlu

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "confusion.png"
    nlu.write_confusion_png(report, png, title=title)
    wrong = out_dir / "misclassified.jsonl"
    with wrong.open("w", encoding="utf-8") as fh:
        for p in report.misclassified:
            fh.write(json.dumps(_prediction(p), ensure_ascii=False) + "\n")
    summary = out_dir / "report.json"
    summary.write_text(json.dumps(report.summary(), ensure_ascii=False, indent=1), "utf-8")
    return {"confusion_png": str(png), "misclassified": str(wrong), "report": str(summary)}


def _prediction(p: nlu.PredictionRecord) -> dict[str, Any]:
    return {
        "text": p.text,
        "gold": p.gold,
        "predicted": p.predicted,
        "confidence": p.confidence,
        "ranking": [{"name": n, "confidence": c} for n, c in p.ranking],
        "fallback": p.fallback,
    }


def _default_report_dir(kind: str, label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / "nlu" / f"{kind}-{label}-{stamp}"


@nlu_app.command("eval")
def nlu_eval(
    data: Annotated[
        Path, typer.Option(help="labelled test data: Rasa YAML, or JSONL (text|title+text, label)")
    ],
    model: Annotated[
        Path | None, typer.Option(help="model directory (default: the active version)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object as the last line")
    ] = False,
    predictions: Annotated[
        Path | None, typer.Option(help="write every prediction here (JSONL)")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="where the PNG and misclassified examples go (default reports/nlu/…)"),
    ] = None,
) -> None:
    """Evaluate a model: accuracy, macro-F1, per-intent P/R/F1, confusions, PNG."""
    import nlu

    settings = load_settings()
    loaded = _load_model(model, settings)
    examples = [e for e in _load_data(data).examples]
    if not examples:
        raise fail(f"no labelled examples in {data}", 2)
    report = nlu.evaluate(loaded, examples)
    out_dir = report_dir or _default_report_dir("eval", loaded.version)
    files = _write_outputs(report, out_dir, f"{loaded.version} on {data.name}")
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with predictions.open("w", encoding="utf-8") as fh:
            for p in report.predictions:
                fh.write(json.dumps(_prediction(p), ensure_ascii=False) + "\n")
        files["predictions"] = str(predictions)
    _print_report(report, f"model {loaded.version} on {data}")
    for what, path in files.items():
        typer.echo(f"{what}: {path}")
    if as_json:
        summary = report.summary()
        summary.update({"model": loaded.version, "data": str(data), "files": files})
        typer.echo(json.dumps(summary, ensure_ascii=False))


@nlu_app.command("cv")
def nlu_cv(
    folds: Annotated[int, typer.Option(min=2, max=20, help="number of folds")] = 5,
    data: Annotated[
        Path | None, typer.Option(help="a training-data file (default: the database's data)")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="pipeline config YAML")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object as the last line")
    ] = False,
    report_dir: Annotated[Path | None, typer.Option(help="where the PNG etc. go")] = None,
) -> None:
    """Stratified k-fold cross-validation: every example predicted by a model that never saw it."""
    import nlu

    settings = load_settings()
    training, source = _training(data, settings)
    label = data.stem if data is not None else "database"
    pipeline = _load_config(config)
    try:
        with _progress_bar("cv") as progress:
            cv = nlu.cross_validate(training, folds=folds, config=pipeline, progress=progress)
    except (nlu.NLUError, ValueError) as e:
        raise fail(f"cross-validation failed: {e}", 2) from e
    out_dir = report_dir or _default_report_dir("cv", label or "data")
    files = _write_outputs(cv.report, out_dir, f"{folds}-fold CV on {label}")
    f1s = cv.fold_macro_f1
    _print_report(cv.report, f"{folds}-fold CV on {source}")
    typer.echo("fold macro-F1: " + ", ".join(f"{f:.4f}" for f in f1s))
    for what, file in files.items():
        typer.echo(f"{what}: {file}")
    if as_json:
        summary = cv.to_dict()
        summary.update({"data": source, "files": files})
        typer.echo(json.dumps(summary, ensure_ascii=False))


# --- parse ---------------------------------------------------------------------------------


@nlu_app.command("parse")
def nlu_parse(
    text: Annotated[str, typer.Argument(help="the message to parse")],
    model: Annotated[Path | None, typer.Option(help="model directory")] = None,
) -> None:
    """Parse one message and print intent, ranking and entities as JSON."""
    import nlu
    from bot.nlu_runtime import LOCAL_TZ

    settings = load_settings()
    loaded = _load_model(model, settings)
    result = loaded.parse(text, now=datetime.now(LOCAL_TZ))
    thresholds = loaded.thresholds
    decision = "act"
    if result.intent.name == nlu.OUT_OF_SCOPE:
        decision = "out_of_scope"
    elif result.intent.confidence < thresholds.clarify:
        decision = "clarify"
    typer.echo(
        json.dumps(
            {
                "text": result.text,
                "intent": {"name": result.intent.name, "confidence": result.intent.confidence},
                "ranking": [{"name": r.name, "confidence": r.confidence} for r in result.ranking],
                "entities": [
                    {
                        "entity": e.type,
                        "value": e.value,
                        "start": e.start,
                        "end": e.end,
                        "text": e.text,
                        "extractor": e.extractor,
                        "confidence": e.confidence,
                    }
                    for e in result.entities
                ],
                "decision": decision,
                "thresholds": {
                    "clarify": thresholds.clarify,
                    "out_of_scope": thresholds.out_of_scope,
                },
                "model": loaded.version,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


# --- Rasa import / export ------------------------------------------------------------------


def _domain_for(data: nlu.TrainingData) -> nlu.Domain:
    """Our intents, the entity types we annotate or extract, and the flows' slots."""
    import nlu
    from handlers.flows import FLOWS

    entities: dict[str, None] = dict.fromkeys(
        ["building", "unit", "room", "community", "phone", "plate", "time", "urgency"]
    )
    for example in data.examples:
        for ann in example.entities:
            entities.setdefault(ann.entity, None)
    for name in (*data.regexes, *data.lookups):
        entities.setdefault(name, None)
    slots: dict[str, dict[str, object]] = {}
    for flow in FLOWS.values():
        for slot in flow.slots:
            if slot.name in slots:
                continue
            mapping: dict[str, object]
            if slot.name in entities:
                mapping = {"type": "from_entity", "entity": slot.name}
            else:
                mapping = {"type": "from_text"}
            slots[slot.name] = {
                "type": "text",
                "influence_conversation": False,
                "mappings": [mapping],
            }
    intents = list(dict.fromkeys(i.split("/", 1)[0] for i in data.intents))  # faq/ask_x → faq
    return nlu.Domain(intents=intents, entities=list(entities), slots=slots)


@nlu_app.command("export")
def nlu_export(
    out: Annotated[
        Path | None, typer.Option(help="write the NLU YAML here (default: stdout)")
    ] = None,
    domain: Annotated[
        Path | None, typer.Option(help="also write the intents/entities/slots domain.yml here")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="export this training-data file instead of the database's data"),
    ] = None,
) -> None:
    """Export the database's training data as one Rasa 3 NLU YAML file (and a domain.yml)."""
    import nlu

    settings = load_settings()
    training, _ = _training(data, settings)
    text = nlu.dump_rasa_yaml(training)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, "utf-8")
        typer.echo(
            f"wrote {out}: {len(training.examples)} examples, {len(training.intents)} intents, "
            f"{len(training.synonyms)} synonyms, {len(training.regexes)} regexes, "
            f"{len(training.lookups)} lookups",
            err=True,
        )
    if domain is not None:
        ours = _domain_for(training)
        if domain.is_file():
            try:
                merged = nlu.merge_domain_yaml(domain.read_text("utf-8"), ours)
            except (OSError, nlu.NLUError) as e:
                raise fail(f"cannot merge into {domain}: {e}", 2) from e
            domain.write_text(merged, "utf-8")
            typer.echo(f"merged our intents, entities and slots into {domain}", err=True)
        else:
            domain.parent.mkdir(parents=True, exist_ok=True)
            domain.write_text(nlu.dump_domain_yaml(ours), "utf-8")
            typer.echo(f"wrote {domain}", err=True)


@nlu_app.command("import")
def nlu_import(
    file: Annotated[Path, typer.Argument(help="Rasa NLU YAML (or JSONL text,label) to import")],
    into: Annotated[
        Path | None,
        typer.Option(
            help="write it as a file into this training-data directory instead of the database"
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="with --into: the file name (default: the file's name)")
    ] = None,
    domain: Annotated[
        Path | None, typer.Option(help="a Rasa domain.yml to check the intents against")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="replace all the database's training data (with --into: overwrite the file)",
        ),
    ] = False,
) -> None:
    """Add a Rasa NLU file to the database's training data (checked, all or nothing).

    Examples already there are skipped; synonym, lookup and regex tables are merged. Nothing
    is written into nlu/data: it is the seed of new databases, not where data is kept.
    """
    import nlu
    from handlers.errors import Refused
    from handlers.intent_service import import_data
    from handlers.ports import SystemClock
    from handlers.training_data import base_intent, import_notes

    settings = load_settings()
    imported = _load_data(file)
    if not imported.examples and not (imported.synonyms or imported.regexes or imported.lookups):
        raise fail(f"{file} holds no NLU data (no 'nlu:' section?)", 2)
    if domain is not None:
        try:
            declared = nlu.parse_domain_yaml(domain.read_text("utf-8"))
        except (OSError, nlu.NLUError) as e:
            raise fail(f"cannot read domain {domain}: {e}", 2) from e
        # a retrieval intent (faq/ask_x) is declared by its base intent (faq)
        missing = [i for i in imported.intents if base_intent(i) not in declared.intents]
        if missing:
            raise fail(f"intents not declared in {domain}: {', '.join(missing)}", 2)
    for note in import_notes(imported):
        typer.echo(f"注意 / note: {note}", err=True)
    if into is not None:
        target = into / f"{Path(name or file.name).stem}.yml"
        if target.exists() and not replace:
            raise fail(f"{target} exists; use --replace or --name", 2)
        into.mkdir(parents=True, exist_ok=True)
        target.write_text(nlu.dump_rasa_yaml(imported), "utf-8")
        merged = _load_data(into)
        typer.echo(
            f"imported {len(imported.examples)} examples of {len(imported.intents)} intents "
            f"into {target}; that directory now has {len(merged.examples)} examples of "
            f"{len(merged.intents)} intents. Train on it with: minhu nlu train --data {into}"
        )
        return
    if name is not None:
        raise fail("--name only names a file written with --into", 2)

    async def work(store: Any) -> dict[str, int]:
        return await import_data(
            store, SystemClock(), imported, replace=replace, actor=None, by="cli"
        )

    try:
        written = _with_store(settings, work)
    except Refused as e:
        raise fail(f"导入失败，未做任何改动 / nothing imported: {e.message}", 2) from e
    total = _database_data(settings)
    typer.echo(
        f"imported {file} into the database ({'replacing' if replace else 'merged with'} its "
        f"training data): {written['intents']} new intents, {written['examples']} new examples "
        f"({len(imported.examples) - written['examples']} already there); the database now "
        f"has {len(total.examples)} examples of {len(total.intents)} intents. "
        "Train with: minhu nlu train"
    )


# --- versions ------------------------------------------------------------------------------


@nlu_app.command("versions")
def nlu_versions(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List stored model versions with their held-out evaluation (* marks the active one)."""
    settings = load_settings()
    repo = _repo(settings)
    versions = repo.versions()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "active": repo.active_version(),
                    "versions": [v.to_dict() for v in versions],
                    "history": [h.to_dict() for h in repo.history()],
                },
                ensure_ascii=False,
            )
        )
        return
    if not versions:
        typer.echo(f"no model versions in {repo.root}")
        return
    for v in versions:
        mark = "*" if v.active else " "
        detail = v.problem or _metrics_line(v.metrics)
        typer.echo(
            f"{mark} {v.version:<22} trained {v.trained_at or '?':<26} {v.n_examples:>6} ex  "
            f"{detail}"
        )


@nlu_app.command("activate")
def nlu_activate(
    version: Annotated[str, typer.Argument(help="a stored version (minhu nlu versions)")],
    force: Annotated[
        bool, typer.Option("--force", help="activate even if it scores worse (needs --reason)")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the history)")] = None,
) -> None:
    """Make a stored version active (refused if it scores worse, unless --force)."""
    import nlu
    from bot.nlu_runtime import ActivationRefused

    settings = load_settings()
    if force and not reason:
        raise fail("--force needs --reason", 2)
    repo = _repo(settings)
    try:
        entry = repo.activate(version, force=force, reason=reason)
    except ActivationRefused as e:
        raise fail(str(e), 1) from e
    except nlu.NLUError as e:
        raise fail(str(e), 2) from e
    if entry.comparison:
        typer.echo(_describe(entry.comparison))
    typer.echo(f"activated {version} (was {entry.previous or 'none'})")


@nlu_app.command("rollback")
def nlu_rollback(
    version: Annotated[
        str | None, typer.Argument(help="version to return to (default: the previous one)")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the history)")] = None,
) -> None:
    """Return to an earlier version (by default the one active before the current one)."""
    import nlu

    settings = load_settings()
    repo = _repo(settings)
    try:
        entry = repo.rollback(version, reason=reason)
    except nlu.NLUError as e:
        raise fail(str(e), 2) from e
    typer.echo(f"rolled back to {entry.version} (was {entry.previous or 'none'})")


def _describe(raw: dict[str, Any]) -> str:
    from bot.nlu_runtime import comparison_from_dict

    comparison = comparison_from_dict(raw)
    return comparison.describe() if comparison else ""
