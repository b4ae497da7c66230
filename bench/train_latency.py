"""Chat latency while the console trains a model, by where the training runs.

    .venv/bin/python bench/train_latency.py [--messages 200] [--mode all|thread|app|worker]

Modes: ``thread``, the behaviour before the job process (training in a thread of the web
process); ``app``, the job queue's runner thread in the web process (the embedded default,
``MINHU_JOBS__RUNNER=app``), training in a child process; ``worker``, the web process only
queues and a ``minhu worker run`` process takes the job (``MINHU_JOBS__RUNNER=worker``, the
production compose). The web chat runs in process (demo community, SQLite in a temporary
directory, the model trained here on nlu/data). For each mode: first chat alone (baseline),
then chat while a console training job runs (`bot.admin.training.start_training`, the same
as 训练 in the console). One resident's message at a time through ``POST /api/v1/messages``,
so a number is the time one resident waits. Prints p50 / p95 / max per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEXTS = [
    "3幢楼道灯坏了",
    "小区门口有车乱停，堵住了消防通道",
    "楼上装修太吵了",
    "5幢电梯有异响",
    "垃圾桶满了没人清理",
    "我的工单处理到哪了",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@asynccontextmanager
async def chat_app(models: Path, data: Path, runner: str) -> AsyncIterator[tuple[Any, Any]]:
    import httpx

    from bot.app import create_app
    from bot.config import Settings

    settings = Settings(
        env="test",
        data_dir=data,
        model_dir=models,
        database_url=f"sqlite:///{data / 'bench.db'}",
        outbox_poll_seconds=0.05,
        load_demo=True,
        log_level="WARNING",
        rate_limits={"enabled": False},
        jobs={"runner": runner},
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, app.state.container


async def chat(client: Any, count: int, tag: str, stop: asyncio.Event | None = None) -> list[float]:
    """Latencies in ms of ``count`` messages (or until ``stop`` is set, at least 20)."""
    waits: list[float] = []
    for i in range(count):
        if stop is not None and stop.is_set() and i >= 20:
            break
        body = {"user_id": f"bench-{tag}-{i % 40}", "text": TEXTS[i % len(TEXTS)]}
        started = time.perf_counter()
        response = await client.post("/api/v1/messages", json=body)
        waits.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return waits


async def train_once(container: Any) -> float:
    """Start a console training job and wait for it; returns its duration in seconds."""
    from bot.admin.accounts import create_user
    from bot.admin.training import start_training
    from handlers.account_service import principal_of

    async with container.store.unit() as uow:
        user = await uow.admin.user_by_name("bench-ops")
        if user is None:
            user = await create_user(
                uow,
                username="bench-ops",
                password="correct-horse-battery",
                role="admin",
                env="test",
                now=container.clock.now(),
            )
    started = time.perf_counter()
    job_id = await start_training(container, principal_of(user, via="token"))
    while True:
        await asyncio.sleep(0.2)
        async with container.store.unit() as uow:
            job = await uow.nlu_data.job(job_id)
        if job is not None and job.status in ("done", "failed"):
            if job.status == "failed":
                raise RuntimeError(f"training failed: {job.error}")
            return time.perf_counter() - started


def line(phase: str, waits: list[float]) -> str:
    return (
        f"{phase:<28} n={len(waits):<4} p50={statistics.median(waits):6.1f} ms  "
        f"p95={percentile(waits, 0.95):7.1f} ms  max={max(waits):7.1f} ms"
    )


async def measure(models: Path, mode: str, count: int) -> list[str]:
    import bot.admin.training as training
    from bot import jobs

    if mode == "thread":  # the behaviour before: training in a thread of the web process

        async def in_thread(fn: Any, *args: Any, progress: Any) -> Any:
            return await asyncio.to_thread(fn, *args, progress=progress)

        training.run_in_process = in_thread  # type: ignore[assignment]
    else:
        training.run_in_process = jobs.run_in_process
    with tempfile.TemporaryDirectory() as tmp:
        runner = "worker" if mode == "worker" else "app"
        async with chat_app(models, Path(tmp), runner) as (client, container):
            worker = start_worker(container.settings) if mode == "worker" else None
            try:
                await chat(client, 20, f"{mode}-warm")
                alone = await chat(client, count, f"{mode}-alone")
                stop = asyncio.Event()
                trainer = asyncio.create_task(train_once(container))
                trainer.add_done_callback(lambda _: stop.set())
                during = await chat(client, 100_000, f"{mode}-train", stop)
                seconds = await trainer
            finally:
                if worker is not None:
                    worker.terminate()
                    worker.wait(30)
    return [
        line(f"{mode}: chat alone", alone),
        line(f"{mode}: chat while training", during) + f"  (training {seconds:.0f} s)",
    ]


def start_worker(settings: Any) -> subprocess.Popen[bytes]:
    """`minhu worker run` on the bench's database and models (the production shape)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINHU_")}
    env.update(
        MINHU_ENV="test",
        MINHU_DATA_DIR=str(settings.data_dir),
        MINHU_DATABASE_URL=settings.database_url,
        MINHU_MODEL_DIR=str(settings.model_dir),
        MINHU_LOG_LEVEL="WARNING",
    )
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "run"], cwd=root, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--mode", choices=("all", "thread", "app", "worker"), default="all")
    args = parser.parse_args()

    import nlu
    from bot.nlu_runtime import ModelRepository

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        root = Path(__file__).resolve().parents[1]
        model = nlu.train(nlu.load_training_data(root / "nlu" / "data"), version="bench-train")
        repo = ModelRepository(Path(tmp) / "models")
        repo.save(model)
        repo.activate(model.version, force=True, reason="benchmark")
        print(f"model trained on nlu/data in {time.perf_counter() - started:.1f} s")
        modes = ("thread", "app", "worker") if args.mode == "all" else (args.mode,)
        for mode in modes:
            for text in asyncio.run(measure(repo.root, mode, args.messages)):
                print(text)


if __name__ == "__main__":
    main()
