"""Train → evaluate → activate: JSON API (``/api/v1/admin/nlu/...``) and ``/admin/nlu`` pages."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.admin import training as service
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, client_ip, redirect, render
from bot.container import Container
from handlers.accounts import Principal
from handlers.guards import require
from handlers.permissions import Action

router = APIRouter()


class JobOut(BaseModel):
    id: int | None
    kind: str = Field(description="train | import | registry | broadcast | purge")
    kind_label: str
    status: str = Field(description="queued | running | done | failed")
    stage: str
    stage_label: str
    attempts: int = Field(description="claims by a worker (a killed worker's job is retried)")
    progress: float = Field(description="0..1")
    version: str
    baseline_version: str
    result: dict[str, Any]
    error: str
    started_by: str
    created_at: str
    finished_at: str | None


class ActivateIn(BaseModel):
    version: str = Field(max_length=100)
    force: bool = False
    reason: str = Field(default="", max_length=2000)


class RollbackIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


# --- JSON API ----------------------------------------------------------------------------------


@router.post("/api/v1/admin/nlu/train", status_code=202, response_model=JobOut, tags=["nlu"])
async def api_train(request: Request, c: Dep, p: ApiUser) -> JobOut:
    """Train on the database's training data in the background; poll the job for progress."""
    job_id = await service.start_training(c, p, ip=client_ip(request))
    return JobOut.model_validate(await service.job_state(c, p, job_id))


@router.get("/api/v1/admin/nlu/jobs", response_model=list[JobOut], tags=["nlu"])
async def api_jobs(c: Dep, p: ApiUser) -> list[JobOut]:
    return [JobOut.model_validate(j) for j in await service.recent_jobs(c, p)]


@router.get("/api/v1/admin/nlu/jobs/{job_id}", response_model=JobOut, tags=["nlu"])
async def api_job(c: Dep, p: ApiUser, job_id: int) -> JobOut:
    """A training job's status, stage and progress (any process can answer)."""
    return JobOut.model_validate(await service.job_state(c, p, job_id))


@router.get("/api/v1/admin/nlu/versions", tags=["nlu"])
async def api_versions(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Model versions (newest first) and the activation history (who, when, forced, why)."""
    return await service.versions(c, p)


@router.get("/api/v1/admin/nlu/versions/{version}/evaluation", tags=["nlu"])
async def api_evaluation(c: Dep, p: ApiUser, version: str) -> dict[str, Any]:
    """Per-intent F1 of the version and of the model active when it was trained, on the same
    held-out examples; confusion matrix; misclassified examples; the verdict."""
    return await service.evaluation_of(c, p, version)


@router.get(
    "/api/v1/admin/nlu/versions/{version}/confusion.png",
    tags=["nlu"],
    response_class=Response,
)
async def api_confusion(c: Dep, p: ApiUser, version: str) -> Response:
    return await _png(c, p, version)


async def _png(c: Container, p: Principal, version: str) -> Response:
    require(p.subject, Action.TEACH)
    data = await asyncio.to_thread(service.confusion_png, c.models, version)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.post("/api/v1/admin/nlu/activate", tags=["nlu"])
async def api_activate(request: Request, c: Dep, p: ApiUser, body: ActivateIn) -> dict[str, Any]:
    """Activate a version (admins). 409 when it is worse than (or not compared with) the active
    model, unless ``force`` with a ``reason``. Every process swaps it in within seconds."""
    return await service.activate(
        c, p, body.version, force=body.force, reason=body.reason, ip=client_ip(request)
    )


@router.post("/api/v1/admin/nlu/rollback", tags=["nlu"])
async def api_rollback(request: Request, c: Dep, p: ApiUser, body: RollbackIn) -> dict[str, Any]:
    """Re-activate the version that was active before the current one (admins)."""
    return await service.rollback(c, p, reason=body.reason, ip=client_ip(request))


# --- console ------------------------------------------------------------------------------------


@router.get("/admin/nlu", include_in_schema=False)
async def nlu_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    info = await service.versions(c, p)
    jobs = await service.recent_jobs(c, p)
    running = next(
        (j for j in jobs if j["kind"] == "train" and j["status"] in ("queued", "running")), None
    )
    return render(
        request,
        "nlu.html",
        p,
        info=info,
        jobs=jobs,
        running=running,
        verdicts=service.VERDICTS,
        thresholds=c.interpreter.thresholds,
    )


@router.post("/admin/nlu/train", include_in_schema=False)
async def nlu_train(request: Request, c: Dep, p: FormUser) -> Response:
    job_id = await service.start_training(c, p, ip=client_ip(request))
    return redirect(f"/admin/nlu/jobs/{job_id}", "已开始训练")


@router.get("/admin/nlu/jobs/{job_id}", include_in_schema=False)
async def job_page(request: Request, c: Dep, p: PageUser, job_id: int) -> HTMLResponse:
    job = await service.job_state(c, p, job_id)
    return render(request, "nlu_job.html", p, job=job, verdicts=service.VERDICTS)


@router.get("/admin/nlu/versions/{version}", include_in_schema=False)
async def version_page(request: Request, c: Dep, p: PageUser, version: str) -> HTMLResponse:
    evaluation = await service.evaluation_of(c, p, version)
    return render(request, "nlu_version.html", p, e=evaluation, version=version)


@router.get("/admin/nlu/versions/{version}/confusion.png", include_in_schema=False)
async def confusion_page(c: Dep, p: PageUser, version: str) -> Response:
    return await _png(c, p, version)


@router.post("/admin/nlu/activate", include_in_schema=False)
async def activate_form(
    request: Request,
    c: Dep,
    p: FormUser,
    version: Annotated[str, Form(max_length=100)],
    force: Annotated[str, Form(max_length=5)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    result = await service.activate(
        c, p, version, force=bool(force), reason=reason, ip=client_ip(request)
    )
    note = "（强制）" if result["forced"] else ""
    return redirect("/admin/nlu", f"已启用模型 {version}{note}，所有服务进程会在几秒内切换")


@router.post("/admin/nlu/rollback", include_in_schema=False)
async def rollback_form(
    request: Request, c: Dep, p: FormUser, reason: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    result = await service.rollback(c, p, reason=reason, ip=client_ip(request))
    return redirect("/admin/nlu", f"已回滚到 {result['active']}")
