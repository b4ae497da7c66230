"""Train → evaluate → activate, from the console.

```mermaid
sequenceDiagram
    participant S as staff (browser)
    participant A as web process
    participant DB as database (job row)
    participant W as worker (minhu worker run, or the app's job thread)
    participant M as models directory
    S->>A: 开始训练
    A->>DB: job queued (data snapshot taken now)
    A-->>S: job id; the page polls /api/v1/admin/nlu/jobs/{id}
    W->>DB: claims the job (a lease it renews)
    W->>W: own process: hold out → train candidate and baseline → compare → train on all
    W->>DB: progress, lease (any process can answer the poll)
    W->>M: <version>/ model + training_data.yml + evaluation.json + confusion.png
    S->>A: 启用 (refused when worse unless forced with a reason)
    A->>M: ACTIVE ← version (every process polls it and swaps the model in)
```

Training, comparing, activating and rolling back are ``bot.nlu_runtime.ModelRepository``'s
(the same rules as ``minhu nlu``): each version keeps its *gate* (the model before it was refit
on everything) and its held-out examples, and a candidate is compared with the active model
on the held-out examples neither gate was trained on. This module queues that as a job
(``bot/jobqueue.py``), whose worker records progress in the database, and adds what people
need to see: per-intent F1 of both models on those examples, the confusion matrix and the
misclassified examples.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nlu
from bot.admin.errors import BadInput, Conflict, Missing
from bot.config import S3Settings
from bot.container import Container, s3_store
from bot.jobqueue import JobContext, Progress, enqueue
from bot.jobs import run_in_process
from bot.nlu_runtime import (
    ActivationRefused,
    ActiveInterpreter,
    Comparison,
    ModelRepository,
    ModelVersion,
    comparison_examples,
    comparison_from_dict,
)
from handlers import audit_service
from handlers.accounts import Principal
from handlers.guards import require
from handlers.intent_service import training_data
from handlers.permissions import Action
from storage.models import NluActivation, NluJob

log = logging.getLogger("minhu.admin.training")

EVALUATION_FILE = "evaluation.json"
CONFUSION_FILE = "confusion.png"
DATA_FILE = "training_data.yml"
STAGES = {
    "queued": "排队中",
    "split": "划分评估例句",
    "candidate": "训练候选模型（评估用）",
    "baseline": "训练当前模型的对照（同一批评估例句之外）",
    "evaluate": "评估并对比",
    "final": "用全部例句训练新模型",
    "save": "保存模型",
    "done": "完成",
    "failed": "失败",
    "running": "进行中",
}
KINDS = {
    "train": "训练",
    "import": "导入楼栋帮手",
    "registry": "导入登记表",
    "broadcast": "发布通知",
    "purge": "隐私清理",
}
VERDICTS = {
    "better": "优于当前模型",
    "same": "与当前模型相当",
    "worse": "不如当前模型",
    "weak": "新增或改动的意图识别太差",
    "no_baseline": "没有可对比的当前模型",
}
CHANGES = {"new": "新增", "changed": "例句有改动"}


def comparison_set(n: int, baseline: str | None) -> str:
    """Which held-out examples a number was computed on, in words staff can check."""
    if baseline:
        return f"对比评估集：本版本与 {baseline} 各自留出、两者都没训练过的 {n} 条例句"
    return f"本版本的留出评估集：训练时留出、没用来训练的 {n} 条例句"


def own_set(n: int) -> str:
    return f"本版本的留出评估集：训练时留出、没用来训练的 {n} 条例句"


def weak_rows(comparison: Comparison | None) -> list[dict[str, Any]]:
    return [
        {
            "intent": w.intent,
            "change": w.change,
            "change_label": CHANGES.get(w.change, w.change),
            "f1": w.f1,
            "support": w.support,
        }
        for w in (comparison.weak if comparison else ())
    ]


@dataclass(slots=True)
class Outcome:
    version: str
    evaluation: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)


def _report(report: nlu.EvalReport) -> dict[str, Any]:
    data = report.to_dict()
    data.pop("predictions", None)
    return data


def per_intent_rows(
    candidate: nlu.EvalReport, baseline: nlu.EvalReport | None
) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(candidate.per_intent):
        mine = candidate.per_intent[name]
        theirs = baseline.per_intent.get(name) if baseline else None
        rows.append(
            {
                "intent": name,
                "support": mine.support,
                "candidate_f1": round(mine.f1, 4),
                "baseline_f1": round(theirs.f1, 4) if theirs else None,
                "delta": round(mine.f1 - theirs.f1, 4) if theirs else None,
            }
        )
    return rows


def verdict_of(comparison: Comparison | None) -> str:
    if comparison is None:
        return "no_baseline"
    if comparison.worse:
        return "worse"
    if comparison.weak:
        return "weak"
    return "better" if comparison.delta_macro_f1 > comparison.tolerance else "same"


def evaluate_version(repo: ModelRepository, version: str) -> tuple[dict[str, Any], nlu.EvalReport]:
    """Both gates on the held-out examples (of either version) that neither was trained on.

    The same examples and the same verdict as ``ModelRepository.compare`` (what activation
    checks); with no other active model, the candidate's gate on all its held-out examples.
    """
    candidate = nlu.load_gate(repo.root / version)
    active = repo.active_version()
    baseline = nlu.load_gate(repo.root / active) if active and active != version else None
    seen = candidate.trained_on | (baseline.trained_on if baseline else frozenset())
    pool = comparison_examples(candidate, baseline) if baseline else list(candidate.held_out)
    usable = [e for e in pool if nlu.example_digest(e.text) not in seen]
    if not usable:
        raise nlu.TrainingDataError("no held-out example that neither model was trained on")
    candidate_report = nlu.evaluate(candidate, usable)
    baseline_report = nlu.evaluate(baseline, usable) if baseline else None
    comparison = repo.compare(version) if baseline else None
    held = candidate.metadata.get("held_out")
    own_n = int(held.get("n", 0)) if isinstance(held, dict) else 0
    evaluation: dict[str, Any] = {
        "version": version,
        "baseline_version": active if baseline else None,
        "baseline_fair": True,
        "held_out": len(usable),
        "held_out_set": comparison_set(len(usable), active if baseline else None),
        "own_held_out": own_n,
        "own_held_out_set": own_set(own_n),
        "tolerance": repo.tolerance,
        "floor": repo.floor,
        "weak_intents": weak_rows(comparison),
        "verdict": verdict_of(comparison),
        "macro_f1": {
            "candidate": round(candidate_report.macro_f1, 4),
            "baseline": round(baseline_report.macro_f1, 4) if baseline_report else None,
        },
        "accuracy": {
            "candidate": round(candidate_report.accuracy, 4),
            "baseline": round(baseline_report.accuracy, 4) if baseline_report else None,
        },
        "per_intent": per_intent_rows(candidate_report, baseline_report),
        "candidate": _report(candidate_report),
        "baseline": _report(baseline_report) if baseline_report else None,
    }
    return evaluation, candidate_report


def train_version(
    data: nlu.TrainingData,
    repo: ModelRepository,
    *,
    progress: Callable[[str, float], None],
) -> Outcome:
    """Train and store a version (not activated), evaluate it against the active model and
    keep the evaluation, confusion matrix and training data beside it. CPU-bound: a thread."""
    progress("candidate", 0.02)

    def training(stage: str, fraction: float) -> None:
        progress("candidate", 0.02 + 0.8 * fraction)

    outcome = repo.train_version(data, progress=training, activate=False)
    version = outcome.version.version
    progress("evaluate", 0.85)
    evaluation, report = evaluate_version(repo, version)
    progress("save", 0.95)
    write_artefacts(outcome.version.path, data, evaluation, report)
    repo.publish(version)  # with an object store: the artefacts too, for every replica
    return Outcome(version, evaluation, summary_of(evaluation))


def train_in_process(
    data: nlu.TrainingData,
    root: Path,
    tolerance: float,
    floor: float,
    s3: S3Settings | None = None,
    *,
    progress: Callable[[str, float], None],
) -> Outcome:
    """`train_version` in a job process (bot.jobs): the repository is rebuilt from its path
    (with the same gate: tolerance and the new/changed intents' F1 floor) and, when models
    are shared, its object store from the settings (a client does not cross a process
    boundary)."""
    shared = s3_store(s3) if s3 is not None else None
    repo = ModelRepository(root, tolerance=tolerance, floor=floor, shared=shared)
    return train_version(data, repo, progress=progress)


def write_artefacts(
    folder: Path, data: nlu.TrainingData | None, evaluation: dict[str, Any], report: nlu.EvalReport
) -> None:
    if data is not None:
        (folder / DATA_FILE).write_text(nlu.dump_rasa_yaml(data), "utf-8")
    nlu.write_confusion_png(report, folder / CONFUSION_FILE, title=folder.name)
    (folder / EVALUATION_FILE).write_text(
        json.dumps(evaluation, ensure_ascii=False, indent=1), "utf-8"
    )


def summary_of(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": evaluation["version"],
        "baseline_version": evaluation["baseline_version"],
        "verdict": evaluation["verdict"],
        "macro_f1": evaluation["macro_f1"],
        "held_out": evaluation["held_out"],
        "held_out_set": evaluation["held_out_set"],
        "weak_intents": evaluation["weak_intents"],
        "per_intent_f1": {r["intent"]: r["candidate_f1"] for r in evaluation["per_intent"]},
    }


# --- jobs -------------------------------------------------------------------------------------


def repository(c: Container) -> ModelRepository:
    return c.models


async def start_training(c: Container, p: Principal, *, ip: str = "") -> int:
    """Snapshot the training data and queue a training job (``bot/jobqueue.py``); its id.

    A worker (``minhu worker run``, or the app's job thread) trains it; the console polls the
    job row. One training at a time: another one queued or running is a conflict.
    """
    require(p.subject, Action.TEACH)
    now = c.clock.now()
    async with c.store.unit() as uow:
        for job in await uow.nlu_data.unfinished_jobs():
            if job.kind == "train":
                raise Conflict(f"已有训练在排队或进行（任务 #{job.id}），请等它完成")
        data = await training_data(uow)
        if len(data.intents) < 2:
            raise BadInput("至少需要两个有例句的意图才能训练")
        job = await enqueue(
            uow,
            "train",
            {"data": nlu.dump_rasa_yaml(data)},
            now=now,
            by=p.username,
            baseline_version=c.models.active_version() or "",
        )
        await audit_service.record(
            uow,
            p,
            "nlu.train",
            now=now,
            target_type="job",
            target_id=job.id or "",
            summary=f"开始训练：{len(data.examples)} 条例句，{len(data.intents)} 个意图",
            ip=ip,
        )
        return job.id or 0


async def run_training(ctx: JobContext, job: NluJob, progress: Progress) -> dict[str, Any]:
    """The ``train`` job: train the snapshot in a process of its own, return the summary.

    Its own process: training in a thread held the GIL (chat p95 went to ~400 ms); with
    shared (S3) models the process builds its own client from the settings.
    """
    text = (job.payload or {}).get("data")
    if not isinstance(text, str):
        raise nlu.TrainingDataError("训练任务缺少例句快照，请重新开始训练")
    data = nlu.parse_rasa_yaml(text)
    repo = ctx.models
    progress("split", 0.0)
    outcome = await run_in_process(
        train_in_process,
        data,
        repo.root,
        repo.tolerance,
        repo.floor,
        ctx.settings.s3 if repo.shared is not None else None,
        progress=progress,
    )
    async with ctx.store.unit() as uow:
        row = await uow.nlu_data.job(job.id or 0)
        if row is not None:
            row.version = outcome.version
            await uow.nlu_data.save_job(row)
    log.info("trained %s: %s", outcome.version, outcome.summary["verdict"])
    return outcome.summary


def job_json(job: NluJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "kind_label": KINDS.get(job.kind, job.kind),
        "stage_label": STAGES.get(job.stage, job.stage),
        "attempts": job.attempts,
        "progress": round(job.progress, 3),
        "version": job.version,
        "baseline_version": job.baseline_version,
        "result": dict(job.result or {}),
        "error": job.error,
        "started_by": job.started_by,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


async def job_state(c: Container, p: Principal, job_id: int) -> dict[str, Any]:
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        job = await uow.nlu_data.job(job_id)
    if job is None:
        raise Missing("没有这个训练任务")
    return job_json(job)


async def recent_jobs(c: Container, p: Principal) -> list[dict[str, Any]]:
    require(p.subject, Action.TEACH)
    async with c.store.unit() as uow:
        return [job_json(j) for j in await uow.nlu_data.jobs(limit=20)]


# --- versions, evaluation, activation ----------------------------------------------------------


def list_versions(repo: ModelRepository) -> list[ModelVersion]:
    """Stored versions that can be read (damaged ones are left out of the console)."""
    return [v for v in repo.versions() if v.problem is None]


def _version(repo: ModelRepository, version: str) -> ModelVersion:
    for item in list_versions(repo):
        if item.version == version:
            return item
    raise Missing(f"没有模型版本 {version}")


def read_evaluation(repo: ModelRepository, version: str) -> dict[str, Any] | None:
    path = _version(repo, version).path / EVALUATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def confusion_png(repo: ModelRepository, version: str) -> bytes:
    path = _version(repo, version).path / CONFUSION_FILE
    if not path.is_file():
        raise Missing("该版本没有混淆矩阵图（不是在后台训练的）")
    return path.read_bytes()


async def versions(c: Container, p: Principal) -> dict[str, Any]:
    require(p.subject, Action.TEACH)
    repo = repository(c)
    items = await asyncio.to_thread(list_versions, repo)
    async with c.store.unit() as uow:
        history = await uow.nlu_data.activations(limit=50)
    out = []
    for item in sorted(items, key=lambda v: v.trained_at, reverse=True):
        evaluation = read_evaluation(repo, item.version)
        held = item.metrics if isinstance(item.metrics, dict) else {}
        if evaluation:
            macro = evaluation.get("macro_f1", {}).get("candidate")
            on = evaluation.get("held_out_set") or comparison_set(
                int(evaluation.get("held_out") or 0), evaluation.get("baseline_version")
            )
        else:
            macro = held.get("macro_f1")
            on = own_set(int(held.get("n") or 0)) if macro is not None else ""
        out.append(
            {
                "version": item.version,
                "trained_at": item.trained_at,
                "active": item.active,
                "macro_f1": macro,
                "macro_f1_set": on,
                "verdict": (evaluation or {}).get("verdict"),
                "baseline_version": (evaluation or {}).get("baseline_version"),
                "has_evaluation": evaluation is not None,
            }
        )
    return {
        "active": repo.active_version(),
        "serving": c.interpreter.version,
        "versions": out,
        "activations": [
            {
                "version": a.version,
                "previous": a.previous,
                "kind": a.kind,
                "forced": a.forced,
                "reason": a.reason,
                "by": a.by,
                "at": a.at.isoformat(),
            }
            for a in history
        ],
    }


async def evaluation_of(c: Container, p: Principal, version: str) -> dict[str, Any]:
    require(p.subject, Action.TEACH)
    repo = repository(c)
    evaluation = await asyncio.to_thread(read_evaluation, repo, version)
    if evaluation is None:
        raise Missing("该版本没有评估报告（不是在后台训练的）")
    active = repo.active_version()
    evaluation["current_active"] = active
    evaluation["stale"] = evaluation.get("baseline_version") != active
    evaluation["verdict_label"] = VERDICTS.get(str(evaluation.get("verdict")), "")
    evaluation.setdefault(
        "held_out_set",
        comparison_set(int(evaluation.get("held_out") or 0), evaluation.get("baseline_version")),
    )
    evaluation.setdefault("weak_intents", [])
    return evaluation


async def _swap(c: Container, version: str) -> None:
    """This process swaps at once; the others follow the ACTIVE pointer within seconds."""
    if isinstance(c.interpreter, ActiveInterpreter):
        model = await asyncio.to_thread(c.models.load, version)
        c.interpreter.swap(model)


async def activate(
    c: Container,
    p: Principal,
    version: str,
    *,
    force: bool = False,
    reason: str = "",
    ip: str = "",
) -> dict[str, Any]:
    """Make a version active. Refused when its evaluation against the *current* active model
    says worse (or there is none) unless forced with a reason; audited either way."""
    require(p.subject, Action.ACTIVATE_MODEL)
    repo = repository(c)
    _version(repo, version)
    active = repo.active_version()
    if version == active:
        raise Conflict(f"{version} 已是当前模型")
    reason = reason.strip()
    if force and not reason:
        raise BadInput("强制启用需要填写原因")
    try:
        entry = await asyncio.to_thread(repo.activate, version, force=force, reason=reason or None)
    except ActivationRefused as e:
        cmp = e.comparison
        macro = (
            {"candidate": cmp.candidate_macro_f1, "baseline": cmp.active_macro_f1} if cmp else {}
        )
        if cmp is not None and cmp.n == 0:
            text = "没有两个模型都没训练过的评估例句，无法证明新模型不比当前模型差；"
        elif cmp is not None and not cmp.worse and cmp.weak:
            text = (
                "新增或改动的意图在本版本留出的评估例句上识别太差（"
                + "；".join(
                    f"{w.intent} {CHANGES.get(w.change, w.change)}："
                    + (f"F1 {w.f1:.3f}（{w.support} 条）" if w.f1 is not None else "没有留出的例句")
                    for w in cmp.weak
                )
                + f"，要求 F1 ≥ {cmp.floor:.2f}），"
            )
        else:
            text = (
                f"新模型在同一批评估例句上不如当前模型（macro-F1 {macro.get('candidate')} < "
                f"{macro.get('baseline')}），"
            )
        raise Conflict(
            text + "如确需启用，请勾选“强制启用”并填写原因",
            detail={
                "verdict": verdict_of(cmp) if cmp else "worse",
                "macro_f1": macro,
                "weak_intents": weak_rows(cmp),
            },
        ) from e
    except nlu.NLUError as e:
        raise BadInput(f"该版本无法启用：{e}") from e
    comparison = comparison_from_dict(entry.comparison)
    verdict = verdict_of(comparison)
    risky = verdict in {"worse", "weak"}
    await _swap(c, version)
    now = c.clock.now()
    async with c.store.unit() as uow:
        await uow.nlu_data.add_activation(
            NluActivation(
                version=version,
                previous=active or "",
                kind="activate",
                forced=force and risky,
                reason=reason[:2000],
                by=p.username,
                at=now,
            )
        )
        await audit_service.record(
            uow,
            p,
            "nlu.activate.forced" if force and risky else "nlu.activate",
            now=now,
            target_type="model",
            target_id=version,
            summary=(
                f"强制启用（{verdict}）：{reason}" if force and risky else f"启用（{verdict}）"
            ),
            before={"active": active},
            after={"active": version},
            ip=ip,
        )
    return {"active": version, "previous": active, "verdict": verdict, "forced": force and risky}


async def rollback(c: Container, p: Principal, *, reason: str = "", ip: str = "") -> dict[str, Any]:
    """Go back to the version that was active before the current one."""
    require(p.subject, Action.ACTIVATE_MODEL)
    repo = repository(c)
    active = repo.active_version()
    try:
        entry = await asyncio.to_thread(repo.rollback, reason=reason.strip() or None)
    except nlu.NLUError as e:
        raise Conflict("没有可以回滚到的上一个版本") from e
    target = entry.version
    await _swap(c, target)
    now = c.clock.now()
    async with c.store.unit() as uow:
        await uow.nlu_data.add_activation(
            NluActivation(
                version=target,
                previous=active or "",
                kind="rollback",
                reason=reason.strip()[:2000],
                by=p.username,
                at=now,
            )
        )
        await audit_service.record(
            uow,
            p,
            "nlu.rollback",
            now=now,
            target_type="model",
            target_id=target,
            summary=f"从 {active} 回滚到 {target}"
            + (f"：{reason.strip()}" if reason.strip() else ""),
            before={"active": active},
            after={"active": target},
            ip=ip,
        )
    return {"active": target, "previous": active}
