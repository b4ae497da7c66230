"""The durable job queue: staff queue work in the console, a `minhu worker run` process (a
real subprocess) does it; jobs survive having no worker, and a killed worker's job is retried.
The app's own runner thread (the embedded default) is covered by the console's training,
import and notice tests, which run with it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.jobqueue import JobContext, JobRunner
from bot.nlu_runtime import ModelRepository
from storage.models import NluJob
from tests.bot.admin.helpers import api_token, bearer, make_user
from tests.bot.admin.test_training import PETS
from tests.bot.grid.test_building_helpers import staff
from tests.factories import FakeClock, make_settings

ROOT = Path(__file__).resolve().parents[2]
WORKER_ONLY = {"jobs": {"runner": "worker", "wait_seconds": 0.3}, "sla": {"sweep_seconds": 3600}}
HELPERS_CSV = "姓名,角色,社区,楼栋,单元,电话\n孙丽,单元长,阳光花园社区,9幢,1单元,13900000091\n"


def worker_env(app: Any, **extra: str) -> dict[str, str]:
    settings = app.container.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINHU_")}
    env.update(
        MINHU_ENV="test",
        MINHU_DATA_DIR=str(settings.data_dir),
        MINHU_DATABASE_URL=settings.database_url,
        MINHU_MODEL_DIR=str(settings.model_dir),
        **extra,
    )
    return env


def worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`minhu worker run …` in a session of its own (so a kill takes its training child too)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


async def job_of(client: httpx.AsyncClient, job_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/admin/nlu/jobs/{job_id}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def until(client: httpx.AsyncClient, job_id: int, statuses: set[str], limit: float) -> Any:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        state = await job_of(client, job_id)
        if state["status"] in statuses:
            return state
        assert asyncio.get_running_loop().time() < deadline, f"job stuck: {state}"
        await asyncio.sleep(0.2)


@asynccontextmanager
async def teacher(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's API client, with a new intent's examples to train on."""
    await make_user(app.container, "ops", "admin")
    client = bearer(app, await api_token(app.container, "ops"))
    try:
        made = await client.post("/api/v1/admin/intents", json={"name": "report_pets"})
        assert made.status_code == 201, made.text
        added = await client.post(
            "/api/v1/admin/intents/report_pets/examples", json={"examples": PETS}
        )
        assert added.json()["added"] == len(PETS), added.text
        yield client
    finally:
        await client.aclose()


async def test_training_queued_while_no_worker_runs_is_done_when_a_worker_process_starts(
    start_app: Any, models_copy: Path
) -> None:
    async with start_app(models=models_copy, **WORKER_ONLY) as app, teacher(app) as client:
        started = await client.post("/api/v1/admin/nlu/train")
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        await asyncio.sleep(1.5)  # the web process does not run it
        queued = await job_of(client, job_id)
        assert queued["status"] == "queued" and queued["stage_label"] == "排队中"
        listed = (await client.get("/api/v1/admin/nlu/jobs")).json()
        assert any(j["id"] == job_id and j["kind_label"] == "训练" for j in listed)

        run = worker(worker_env(app), "--once")
        out, _ = await asyncio.to_thread(run.communicate, timeout=600)
        assert run.returncode == 0, out
        assert "完成 1 个任务" in out
        job = await job_of(client, job_id)
        assert job["status"] == "done", job["error"]
        assert job["version"] and job["version"] != "v-test-1"
        assert "report_pets" in job["result"]["per_intent_f1"]
        versions = (await client.get("/api/v1/admin/nlu/versions")).json()
        assert job["version"] in [v["version"] for v in versions["versions"]]
        activated = await client.post(
            "/api/v1/admin/nlu/activate",
            json={"version": job["version"], "force": True, "reason": "测试：队列训练出的版本"},
        )
        assert activated.status_code == 200, activated.text
        assert (await client.get("/api/v1/admin/nlu/versions")).json()["serving"] == job["version"]


async def test_a_job_whose_worker_was_killed_is_retried_by_the_next_worker(
    start_app: Any, models_copy: Path
) -> None:
    async with start_app(models=models_copy, **WORKER_ONLY) as app, teacher(app) as client:
        job_id = (await client.post("/api/v1/admin/nlu/train")).json()["id"]
        env = worker_env(app, MINHU_JOBS__LEASE_SECONDS="2")
        first = worker(env)
        try:
            running = await until(client, job_id, {"running", "done", "failed"}, 120)
            assert running["status"] == "running", running
            await until_progress(client, job_id)
        finally:
            os.killpg(first.pid, signal.SIGKILL)  # the worker and its training process
            await asyncio.to_thread(first.wait, 30)
        orphaned = await job_of(client, job_id)
        assert orphaned["status"] == "running" and orphaned["attempts"] == 1
        await asyncio.sleep(2.5)  # the dead worker's lease runs out

        second = worker(env, "--once")
        out, _ = await asyncio.to_thread(second.communicate, timeout=600)
        assert second.returncode == 0, out
        job = await job_of(client, job_id)
        assert job["status"] == "done", job["error"]
        assert job["attempts"] == 2
        assert "report_pets" in job["result"]["per_intent_f1"]


async def until_progress(client: httpx.AsyncClient, job_id: int) -> None:
    """Wait until the worker reports training progress (it is really mid-job)."""
    deadline = asyncio.get_running_loop().time() + 120
    while (await job_of(client, job_id))["progress"] <= 0.02:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)


async def test_an_import_not_done_within_the_wait_answers_202_and_a_worker_adds_the_rows(
    start_app: Any,
) -> None:
    async with start_app(**WORKER_ONLY) as app, await staff(app) as client:
        answered = await client.post(
            "/api/v1/helpers/import",
            files={"file": ("h.csv", HELPERS_CSV.encode(), "text/csv")},
        )
        assert answered.status_code == 202, answered.text
        assert "已排队" in answered.json()["message"]
        assert all(h["name"] != "孙丽" for h in (await client.get("/api/v1/helpers")).json())

        run = worker(worker_env(app), "--once")
        out, _ = await asyncio.to_thread(run.communicate, timeout=300)
        assert run.returncode == 0 and "完成 1 个任务" in out, out
        listed = (await client.get("/api/v1/helpers")).json()
        assert [h["role_label"] for h in listed if h["name"] == "孙丽"] == ["单元长"]


async def test_two_runners_never_take_the_same_job(sql_store: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, models=tmp_path / "models")
    async with sql_store.unit() as uow:
        for n in range(6):
            await uow.nlu_data.add_job(
                NluJob(
                    kind="purge", status="queued", payload={"days": 30 + n}, created_at=clock.now()
                )
            )
    models = ModelRepository(tmp_path / "models")
    runners = [
        JobRunner(JobContext(settings, clock, sql_store, models), name=f"r{i}") for i in (1, 2)
    ]

    async def drain(runner: JobRunner) -> int:
        count = 0
        while await runner.run_once():
            count += 1
        return count

    counts = await asyncio.gather(*(drain(r) for r in runners))
    assert sum(counts) == 6
    async with sql_store.unit() as uow:
        jobs = await uow.nlu_data.jobs(limit=10)
    assert {j.status for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}
    assert all("已匿名化" in j.result["text"] for j in jobs)


async def test_a_claim_whose_lease_expired_is_taken_again_and_given_up_after_three(
    sql_store: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with sql_store.unit() as uow:
        job = await uow.nlu_data.add_job(
            NluJob(kind="purge", status="queued", payload={"days": 30}, created_at=clock.now())
        )
    for attempt in (1, 2, 3):
        now = clock.now()
        async with sql_store.unit() as uow:
            claimed = await uow.nlu_data.claim_job(
                now=now,
                lease_until=now + timedelta(seconds=30),
                worker=f"w{attempt}",
                kinds=["purge"],
            )
            again = await uow.nlu_data.claim_job(
                now=now, lease_until=now + timedelta(seconds=30), worker="other", kinds=["purge"]
            )
        assert claimed is not None and claimed.id == job.id and claimed.attempts == attempt
        assert again is None  # held: nobody else gets it while the lease runs
        clock.advance(seconds=31)  # the worker died: nobody renews
    settings = make_settings(tmp_path, models=tmp_path / "models")
    runner = JobRunner(JobContext(settings, clock, sql_store, ModelRepository(tmp_path / "m")))
    assert await runner.run_once()
    async with sql_store.unit() as uow:
        final = await uow.nlu_data.job(job.id or 0)
    assert final is not None and final.status == "failed" and "多次中断" in final.error


async def test_the_apps_runner_hands_a_running_job_back_at_shutdown_and_does_it_after_restart(
    start_app: Any, monkeypatch: Any
) -> None:
    """The embedded default: the web process's own runner thread (its own event loop)."""
    import bot.job_kinds
    from bot.jobqueue import submit

    release = {"slow": True}

    async def slow(ctx: JobContext, job: NluJob, progress: Any) -> dict[str, Any]:
        progress("running", 0.5)
        # the flag is flipped by the test's loop, not the runner's: an asyncio.Event can't
        while release["slow"]:  # noqa: ASYNC110 -- until the app stops (cancelled) ...
            await asyncio.sleep(0.05)
        return {"text": "完成"}  # ... or, after the restart, at once

    monkeypatch.setitem(bot.job_kinds.HANDLERS, "slow", slow)
    async with start_app(sla={"sweep_seconds": 3600}) as app:
        c = app.container
        job_id = await submit(c.store, c.clock, "slow", {}, "test")
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with c.store.unit() as uow:
                job = await uow.nlu_data.job(job_id)
            if job is not None and job.status == "running" and job.progress == 0.5:
                break
            assert asyncio.get_running_loop().time() < deadline, job
            await asyncio.sleep(0.1)
    async with start_app(sla={"sweep_seconds": 3600}, jobs={"runner": "worker"}) as app:
        async with app.container.store.unit() as uow:
            handed_back = await uow.nlu_data.job(job_id)
        assert handed_back is not None
        assert (handed_back.status, handed_back.attempts, handed_back.worker) == ("queued", 0, "")
    release["slow"] = False
    async with start_app(sla={"sweep_seconds": 3600}) as app:
        c = app.container
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with c.store.unit() as uow:
                job = await uow.nlu_data.job(job_id)
            if job is not None and job.status == "done":
                break
            assert asyncio.get_running_loop().time() < deadline, job
            await asyncio.sleep(0.1)
        assert job.result == {"text": "完成"} and job.attempts == 1


async def test_a_training_left_running_by_the_version_before_the_queue_fails_and_frees_the_console(
    sql_store: Any, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with sql_store.unit() as uow:  # what an upgrade finds: running, no lease, no payload
        old = await uow.nlu_data.add_job(
            NluJob(kind="train", status="running", stage="candidate", created_at=clock.now())
        )
    settings = make_settings(tmp_path, models=tmp_path / "models")
    runner = JobRunner(JobContext(settings, clock, sql_store, ModelRepository(tmp_path / "m")))
    assert await runner.run_once()
    async with sql_store.unit() as uow:
        job = await uow.nlu_data.job(old.id or 0)
        unfinished = await uow.nlu_data.unfinished_jobs()
    assert job is not None and job.status == "failed" and "请重新开始训练" in job.error
    assert unfinished == []
