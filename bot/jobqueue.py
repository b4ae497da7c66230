"""The durable job queue: heavy work (training, CSV imports, notice broadcasts, privacy purges)
is a row in the database, taken by a worker, never run on a web process's event loop.

```mermaid
sequenceDiagram
    participant W as web process (request)
    participant DB as database (job row)
    participant R as runner (minhu worker run, or the app's own thread)
    W->>DB: job queued (payload: what the work needs)
    R->>DB: claim: queued, or running with an expired lease → running, lease 30 s
    R->>R: run the job's handler; renew the lease and record progress every 0.5 s
    R->>DB: done (result) or failed (error); a refusal keeps its kind and detail
    W->>DB: poll (the console's job view, or a request waiting for a quick job)
```

Why a table of our own and not procrastinate (PostgreSQL) or arq/saq (Redis): Minhu's
default ``make run`` and half of the test matrix are the embedded backend, SQLite with no
Redis, and the queue has to work there too; procrastinate speaks PostgreSQL only (its
in-memory connector is for tests and not durable), arq and saq need Redis, which Minhu
deliberately survives without (README "Reliability": the database stands in for it). The
console also needs each job's stage, progress and error, which a library's own table would
keep apart from the job rows the console already shows. The claim is one conditional UPDATE
(``SqlNluData.claim_job``), which is what SKIP LOCKED buys a library, portable to SQLite.

A job whose worker died (killed, the machine lost) keeps ``running`` with a lease nobody
renews; when the lease has expired the next worker claims it again, up to ``max_attempts``
claims. A job that raised is not retried: a bad CSV file stays bad.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nlu
from bot.config import Settings
from bot.jobs import JobError
from bot.nlu_runtime import ModelRepository
from handlers import errors as domain_errors
from handlers.accounts import Principal
from handlers.errors import Refused
from handlers.permissions import Role, Subject
from handlers.ports import Clock
from handlers.registry_rules import ImportFailed
from storage.db import Database
from storage.interfaces import Store, UnitOfWork
from storage.models import NluJob
from storage.repositories import SqlStore

log = logging.getLogger("minhu.jobqueue")

# refusals a job raises again in the request that waits for it: the domain's kinds, and a
# CSV import's row errors (the registry page lists them)
REFUSALS: dict[str, type[Refused]] = {
    **{
        name: value
        for name, value in vars(domain_errors).items()
        if isinstance(value, type) and issubclass(value, Refused)
    },
    "ImportFailed": ImportFailed,
}

RENEW_SECONDS = 0.5  # progress reaches the console this often; the lease is renewed with it
WAIT_POLL_SECONDS = 0.1
STAGES = {"queued": "排队中", "running": "进行中", "done": "完成", "failed": "失败"}


@dataclass(slots=True)
class Progress:
    """Written by the job (or its process's pipe), read by the runner that records it."""

    stage: str = "running"
    fraction: float = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        self.stage, self.fraction = stage, max(0.0, min(1.0, fraction))


@dataclass(slots=True)
class JobContext:
    """What a job may use: its own database connections, never a web process's."""

    settings: Settings
    clock: Clock
    store: Store
    models: ModelRepository
    on_outbox: Callable[[], None] = lambda: None  # wakes a web process's outbox when local
    database: Database | None = None


Handler = Callable[[JobContext, NluJob, Progress], Awaitable[dict[str, Any]]]


def handlers() -> Mapping[str, Handler]:
    """Every job kind and what runs it (imported late: the handlers use the console's code)."""
    from bot.job_kinds import HANDLERS

    return HANDLERS


class JobFailed(Exception):  # noqa: N818 -- the job's own failure, reported to the caller
    """A job the caller waited for failed for a reason that is not a refusal."""


async def open_context(settings: Settings, clock: Clock, *, migrate: bool = False) -> JobContext:
    """Connect to the database (and the object store) for a runner of its own."""
    from bot.container import object_store

    database = Database(settings.database_url)
    if migrate:
        await database.migrate()
    objects = object_store(settings)
    models = ModelRepository(
        settings.models_path,
        tolerance=settings.admin.activation_tolerance,
        floor=settings.admin.intent_f1_floor,
        shared=objects if settings.s3 is not None else None,
    )
    return JobContext(
        settings, clock, SqlStore(database, objects), models, lambda: None, database=database
    )


async def enqueue(
    uow: UnitOfWork,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    by: str = "",
    baseline_version: str = "",
) -> NluJob:
    """Queue a job in the caller's transaction (it exists once the caller commits)."""
    if kind not in handlers():
        raise ValueError(f"unknown job kind {kind!r}")
    return await uow.nlu_data.add_job(
        NluJob(
            kind=kind,
            status="queued",
            stage="queued",
            payload=payload,
            started_by=by[:64],
            created_at=now,
            heartbeat_at=now,
            baseline_version=baseline_version,
        )
    )


async def submit(store: Store, clock: Clock, kind: str, payload: dict[str, Any], by: str) -> int:
    """Queue a job in a transaction of its own; its id."""
    async with store.unit() as uow:
        job = await enqueue(uow, kind, payload, now=clock.now(), by=by)
        return job.id or 0


async def wait_for(store: Store, job_id: int, seconds: float) -> NluJob | None:
    """The job once finished, or None when ``seconds`` passed first (it is still queued or
    running, and will finish: the caller answers with its id)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        async with store.unit() as uow:
            job = await uow.nlu_data.job(job_id)
        if job is not None and job.status in ("done", "failed"):
            return job
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(WAIT_POLL_SECONDS)


def outcome(job: NluJob) -> dict[str, Any]:
    """A finished job's result; a refusal is raised again as the same kind with its detail.

    Raises:
        Refused: the job refused (bad input, not allowed ...), as the request would have.
        JobFailed: the job failed otherwise.
    """
    if job.status == "done":
        return dict(job.result or {})
    result = job.result or {}
    refused = result.get("refused")
    if isinstance(refused, str):
        raise REFUSALS.get(refused, Refused)(job.error, detail=result.get("detail"))
    raise JobFailed(job.error or "任务失败")


def principal_payload(p: Principal) -> dict[str, Any]:
    data = dataclasses.asdict(p)
    data["role"] = p.role.value
    data["street_communities"] = list(p.street_communities)
    data["csrf"] = ""  # never stored
    return data


def principal_of(data: Mapping[str, Any]) -> Principal:
    fields = dict(data)
    return Principal(
        **{
            **fields,
            "role": Role(fields["role"]),
            "street_communities": tuple(fields.get("street_communities") or ()),
        }
    )


def subject_payload(subject: Subject) -> dict[str, Any]:
    data = dataclasses.asdict(subject)
    data["role"] = subject.role.value
    data["street_communities"] = sorted(subject.street_communities)
    return data


def subject_of(data: Mapping[str, Any]) -> Subject:
    fields = dict(data)
    return Subject(
        **{
            **fields,
            "role": Role(fields["role"]),
            "street_communities": frozenset(fields.get("street_communities") or ()),
        }
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


async def complete_in(uow: UnitOfWork, job: NluJob, result: dict[str, Any], now: datetime) -> None:
    """Mark a job done in the caller's transaction: a job whose effect commits with it
    (a broadcast) is then never run twice, even when its worker dies right after."""
    row = await uow.nlu_data.job(job.id or 0)
    if row is None:
        return
    row.status, row.stage, row.progress = "done", "done", 1.0
    row.result = result
    row.error = ""
    row.heartbeat_at = row.finished_at = now
    row.lease_until = None
    await uow.nlu_data.save_job(row)


class JobRunner:
    """Claims jobs one at a time and runs them (``minhu worker run``, or the app's thread)."""

    def __init__(
        self,
        ctx: JobContext,
        *,
        name: str | None = None,
        poll_seconds: float | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.name = name or worker_name()
        self.poll = poll_seconds or ctx.settings.jobs.poll_seconds
        self.lease = timedelta(seconds=lease_seconds or ctx.settings.jobs.lease_seconds)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Take jobs until ``stop`` is set; a job running then is handed back to the queue."""
        log.info("job runner %s started", self.name)
        while not stop.is_set():
            try:
                ran = await self.run_once(stop)
            except Exception:  # the database away for a moment: try again after a poll
                log.exception("job runner %s: claiming a job failed", self.name)
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)

    async def run_once(self, stop: asyncio.Event | None = None) -> bool:
        """Claim one job and run it to its end; False when there was none."""
        kinds = list(handlers())
        now = self.ctx.clock.now()
        async with self.ctx.store.unit() as uow:
            job = await uow.nlu_data.claim_job(
                now=now, lease_until=now + self.lease, worker=self.name, kinds=kinds
            )
        if job is None:
            return False
        if job.attempts > job.max_attempts:
            await self._finish(
                job,
                status="failed",
                error=f"任务进程多次中断（已尝试 {job.max_attempts} 次），请重新提交",
            )
            return True
        log.info("job %s (%s) claimed by %s, attempt %s", job.id, job.kind, self.name, job.attempts)
        await self._run(job, stop)
        return True

    async def _run(self, job: NluJob, stop: asyncio.Event | None) -> None:
        progress = Progress()
        work = asyncio.ensure_future(handlers()[job.kind](self.ctx, job, progress))
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            while not work.done():
                waiting: set[asyncio.Future[Any]] = {work}
                if stopping is not None:
                    waiting.add(stopping)
                await asyncio.wait(
                    waiting, timeout=RENEW_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if stopping is not None and stopping.done() and not work.done():
                    work.cancel()
                    with contextlib.suppress(BaseException):
                        await work
                    await self._release(job)
                    return
                if work.done():
                    break
                now = self.ctx.clock.now()
                async with self.ctx.store.unit() as uow:
                    held = await uow.nlu_data.renew_job(
                        job.id or 0,
                        worker=self.name,
                        now=now,
                        lease_until=now + self.lease,
                        stage=progress.stage,
                        progress=progress.fraction,
                    )
                if not held:  # our lease expired and another worker took the job
                    log.warning("job %s was taken over by another worker; stopping it", job.id)
                    work.cancel()
                    with contextlib.suppress(BaseException):
                        await work
                    return
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            await asyncio.shield(self._release(job))
            raise
        finally:
            if stopping is not None:
                stopping.cancel()
        await self._record(job, work)

    async def _record(self, job: NluJob, work: asyncio.Future[dict[str, Any]]) -> None:
        try:
            result = work.result()
        except Refused as e:
            await self._finish(
                job,
                status="failed",
                error=e.message,
                result={"refused": _refusal_kind(e), "detail": _plain(e.detail)},
            )
        except nlu.NLUError as e:
            await self._finish(job, status="failed", error=str(e))
        except JobError as e:
            error = e.message if "NLUError" in e.kinds else f"{e.kinds[0]}: {e.message}"
            await self._finish(job, status="failed", error=error)
        except Exception as e:
            log.exception("job %s (%s) failed", job.id, job.kind)
            await self._finish(job, status="failed", error=f"{type(e).__name__}: {e}")
        else:
            await self._finish(job, status="done", result=result)
            log.info("job %s (%s) done", job.id, job.kind)

    async def _finish(
        self, job: NluJob, *, status: str, error: str = "", result: dict[str, Any] | None = None
    ) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.store.unit() as uow:
            row = await uow.nlu_data.job(job.id or 0)
            if row is None or row.status != "running" or row.worker != self.name:
                return  # finished in the job's own transaction, or taken over
            row.status = status
            row.stage = status
            if status == "done":
                row.progress = 1.0
            if result is not None:
                row.result = {**(row.result or {}), **result}
            row.error = error[:4000]
            row.heartbeat_at = row.finished_at = now
            row.lease_until = None
            await uow.nlu_data.save_job(row)

    async def _release(self, job: NluJob) -> None:
        """Hand a job back to the queue when this runner stops (it is not the job's fault:
        the next runner starts it again without counting the attempt)."""
        async with self.ctx.store.unit() as uow:
            row = await uow.nlu_data.job(job.id or 0)
            if row is None or row.status != "running" or row.worker != self.name:
                return
            row.status, row.stage, row.progress = "queued", "queued", 0.0
            row.worker, row.lease_until = "", None
            row.attempts = max(0, row.attempts - 1)
            await uow.nlu_data.save_job(row)
        log.info("job %s handed back to the queue (runner stopping)", job.id)


def _refusal_kind(e: Refused) -> str:
    """The refusal's nearest kind the waiting request knows (its HTTP status, its page)."""
    for cls in type(e).__mro__:
        name: str = cls.__name__
        if REFUSALS.get(name) is cls:
            return name
    return "Refused"


def _plain(value: Any) -> Any:
    """A refusal's detail as JSON (dataclass rows become dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class ThreadRunner:
    """A runner in a thread of the web process with its own event loop and database
    connections (``MINHU_JOBS__RUNNER=app``, the embedded default): the web process's event
    loop only ever queues and polls. CPU-heavy jobs (training) still go to a process of
    their own (``bot.jobs``)."""

    def __init__(self, settings: Settings, clock: Clock, on_outbox: Callable[[], None]) -> None:
        self.settings = settings
        self.clock = clock
        self.on_outbox = on_outbox
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="minhu-jobs", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception:  # never silent: this process then takes no jobs
            log.exception("the job runner thread stopped; this process takes no jobs")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            ctx = await open_context(self.settings, self.clock)
        finally:
            self._ready.set()
        ctx.on_outbox = self.on_outbox
        try:
            await JobRunner(ctx).run_forever(self._stop)
        finally:
            if ctx.database is not None:
                await ctx.database.dispose()

    async def stop(self, within: float = 15.0) -> None:
        """Stop taking jobs; a running one is handed back to the queue."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # its loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, within)
            if self._thread.is_alive():
                log.error("the job runner thread did not stop within %s s", within)


async def submit_and_wait(
    store: Store, clock: Clock, kind: str, payload: dict[str, Any], *, by: str, wait: float
) -> tuple[int, dict[str, Any] | None]:
    """Queue a quick job (an import, a broadcast) and wait up to ``wait`` seconds for it:
    its id and result, or its id and None when it is still queued or running.

    Raises:
        Refused: the job refused, as the request itself would have.
        JobFailed: the job failed otherwise.
    """
    job_id = await submit(store, clock, kind, payload, by)
    job = await wait_for(store, job_id, wait)
    return job_id, (outcome(job) if job is not None else None)


def queued_answer(job_id: int) -> dict[str, Any]:
    """A request's answer for a job that was not finished within its wait (HTTP 202)."""
    return {
        "job": job_id,
        "status": "queued",
        "message": f"任务 #{job_id} 已排队，完成后生效；进度见“训练与模型”页的任务列表",
    }
