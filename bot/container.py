"""Wiring: the one place that builds concrete classes and connects them (``build``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import S3Settings, Settings
from bot.jobqueue import ThreadRunner
from bot.metrics import CountedHealth, PrometheusMetrics
from bot.nlu_runtime import ActiveInterpreter, ModelRepository
from bot.outbox import OutboxDispatcher
from bot.sla import lifecycle_config, sweep_forever
from handlers.dialogue import DialogueConfig
from handlers.ports import Clock, Interpreter, Notifier, SystemClock
from handlers.service import MinhuService, RecoveryPolicy, ServiceConfig
from handlers.sla_service import SlaSweeper
from handlers.throttle_service import Rate, RateLimits
from storage.db import Database
from storage.interfaces import SessionStore, Store
from storage.journal import RedisInboundJournal
from storage.limits import Limiter, MemoryLimiter, make_limiter
from storage.objects import FilesystemObjectStore, ObjectStore, S3ObjectStore
from storage.repositories import SqlStore
from storage.session_sql import ResilientSessionStore, SqlSessionStore
from storage.state import make_session_store

log = logging.getLogger("minhu.app")


class NotifierSource(Protocol):
    """The part of a channel (``bot.channels.base.Channel``) the wiring needs: its notifier.

    Declared here so the container never imports ``bot.channels`` (the channels import it).
    """

    name: str

    def enabled(self, settings: Settings) -> bool: ...

    def notifier(self, container: Container) -> Notifier | None: ...


@dataclass
class Container:
    """Everything a running Minhu holds; built once per process (or per test app)."""

    settings: Settings
    clock: Clock
    database: Database
    store: Store
    sessions: SessionStore
    models: ModelRepository
    interpreter: Interpreter
    objects: ObjectStore  # photos (and models with MINHU_S3__…): storage/objects.py
    service: MinhuService
    dispatcher: OutboxDispatcher
    sweeper: SlaSweeper | None = None
    limiter: Limiter = field(default_factory=MemoryLimiter)  # abuse limits (storage/limits.py)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # channel-owned objects
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    jobs: ThreadRunner | None = None  # the job queue's runner thread (MINHU_JOBS__RUNNER=app)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a tracked background task (cancelled at shutdown). A finished task is
        forgotten at once (its error logged), so one task per update never piles up."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "background task %s ended with an error",
                task.get_name(),
                exc_info=task.exception(),
            )

    async def close(self) -> None:
        running = list(self.tasks)
        for task in running:
            task.cancel()
        if running:
            _, pending = await asyncio.wait(running, timeout=10)
            for task in pending:
                log.error("background task %s ignored cancellation; abandoning it", task.get_name())
        self.tasks.clear()
        if self.jobs is not None:
            await self.jobs.stop()  # a running job goes back to the queue
        await self.limiter.close()
        if self.service.journal is not None:
            await self.service.journal.close()
        await self.sessions.close()
        await self.database.dispose()


def rate_limits(settings: Settings, limiter: Limiter) -> RateLimits | None:
    """The configured token buckets, or None when turned off."""
    r = settings.rate_limits
    if not r.enabled:
        return None
    return RateLimits(
        limiter,
        message=Rate(r.messages_per_minute, r.message_burst),
        message_per_ip=Rate(r.messages_per_ip_minute, r.message_ip_burst),
        upload=Rate(r.uploads_per_minute, r.upload_burst),
        upload_per_ip=Rate(r.uploads_per_ip_minute, r.upload_ip_burst),
        ticket=Rate(r.tickets_per_minute, r.ticket_burst),
        ticket_per_ip=Rate(r.tickets_per_ip_minute, r.ticket_ip_burst),
    )


async def build(
    settings: Settings,
    *,
    channels: Sequence[NotifierSource],
    clock: Clock | None = None,
) -> Container:
    """Connect to the database and state store, load the NLU model, wire the service.

    Args:
        settings: the configuration, read once.
        channels: the channel registry (``bot.channels.CHANNELS``); each enabled one's
            notifier is wired to the outbox.
        clock: the time source (tests pass a fake).

    Raises:
        StorageError: database unreachable (Redis down only warns: the database stands in).
        NLUError: no trained model, or a corrupt one (clear message).
    """
    clock = clock or SystemClock()
    database = Database(settings.database_url)
    await database.migrate()
    await database.ping()
    sessions = make_session_store(settings.redis_url, settings.redis_prefix)
    if settings.redis_url is not None:
        # Redis down must not refuse messages: locks, state and claims go to PostgreSQL meanwhile
        sessions = ResilientSessionStore(sessions, SqlSessionStore(database))
        sessions.health = CountedHealth()  # its counts also go to /metrics
    try:
        await sessions.connect()
    except Exception:
        await database.dispose()
        raise
    objects = object_store(settings)
    if isinstance(objects, S3ObjectStore):
        try:
            await asyncio.to_thread(objects.ensure_bucket)
        except Exception:
            await sessions.close()
            await database.dispose()
            raise
    store = SqlStore(database, objects)
    models = ModelRepository(
        settings.models_path,
        tolerance=settings.admin.activation_tolerance,
        floor=settings.admin.intent_f1_floor,
        shared=objects if settings.s3 is not None else None,  # every replica, one version
    )
    if models.shared is not None:
        try:
            await asyncio.to_thread(models.adopt_local)
        except Exception:
            await sessions.close()
            await database.dispose()
            raise
    interpreter: Interpreter
    if settings.rasa is not None:
        from bot.rasa_backend import RasaHttpInterpreter

        rasa = RasaHttpInterpreter(
            settings.rasa.url,
            token=settings.rasa.token.get_secret_value() if settings.rasa.token else None,
            timeout=settings.rasa.timeout_seconds,
        )
        interpreter = rasa
        try:
            local = ActiveInterpreter(await asyncio.to_thread(models.load), clock)
        except Exception as e:  # no trained model here: Rasa alone, as before
            log.warning("no local NLU model to stand in for Rasa (%s)", e)
        else:
            from bot.nlu_fallback import FallbackInterpreter

            interpreter = FallbackInterpreter(rasa, local)
            await interpreter.check()
    else:
        try:
            model = await asyncio.to_thread(models.load)
        except Exception:
            await sessions.close()
            await database.dispose()
            raise
        interpreter = ActiveInterpreter(model, clock)
    dispatcher = OutboxDispatcher(
        store,
        {},
        clock,
        poll_seconds=settings.outbox_poll_seconds,
        horizon_seconds=settings.reliability.delivery_horizon_hours * 3600,
        max_backoff_seconds=settings.reliability.delivery_max_backoff_seconds,
        urgent_fallback_after=settings.reliability.urgent_fallback_after,
        send_timeout=settings.outbox_send_timeout_seconds,
    )
    limiter = make_limiter(settings.redis_url, settings.redis_prefix)
    # Redis keeps what arrives while PostgreSQL is down (storage/journal.py: why Redis, what
    # survives); without Redis such a message is refused and the platform retries
    journal = (
        RedisInboundJournal(settings.redis_url, prefix=settings.redis_prefix)
        if settings.redis_url is not None
        else None
    )
    service = MinhuService(
        store=store,
        sessions=sessions,
        interpreter=interpreter,
        clock=clock,
        config=ServiceConfig(
            dialogue=DialogueConfig(
                max_text=settings.max_text, stuck_handoff_after=settings.stuck_handoff_after
            ),
            conversation_ttl_seconds=settings.conversation_ttl_seconds,
            max_text=settings.max_text,
            lock_timeout_seconds=settings.lock_timeout_seconds,
            lifecycle=lifecycle_config(settings),
            recovery=RecoveryPolicy(
                stuck_seconds=settings.reliability.recovery_stuck_seconds,
                max_attempts=settings.reliability.recovery_max_attempts,
                base_backoff_seconds=settings.reliability.recovery_backoff_seconds,
            ),
            sms=settings.sms is not None,
            intake_window_seconds=settings.intake_window_seconds,
            intake_max_rows=settings.intake_max_rows,
        ),
        on_outbox=dispatcher.kick,
        rates=rate_limits(settings, limiter),
        metrics=PrometheusMetrics(),
        journal=journal,
    )
    sweeper = SlaSweeper(
        store,
        service.tickets,
        clock,
        batch=settings.sla.batch,
        lease_seconds=settings.sla.lease_seconds,
    )
    container = Container(
        settings=settings,
        clock=clock,
        database=database,
        store=store,
        sessions=sessions,
        models=models,
        interpreter=interpreter,
        objects=objects,
        service=service,
        dispatcher=dispatcher,
        sweeper=sweeper,
        limiter=limiter,
    )
    for channel in channels:
        if channel.enabled(settings):
            notifier = channel.notifier(container)
            if notifier is not None:
                container.notifiers[channel.name] = notifier
    dispatcher.notifiers.update(container.notifiers)
    return container


def object_store(settings: Settings) -> ObjectStore:
    """Where photos' bytes go: the S3 bucket when configured, else ``<data_dir>/objects``."""
    if settings.s3 is None:
        return FilesystemObjectStore(settings.data_dir / "objects")
    return s3_store(settings.s3)


def s3_store(s3: S3Settings) -> S3ObjectStore:
    """The configured S3 bucket's client."""
    return S3ObjectStore(
        endpoint_url=s3.endpoint_url,
        bucket=s3.bucket,
        access_key=s3.access_key.get_secret_value(),
        secret_key=s3.secret_key.get_secret_value(),
        region=s3.region,
        timeout=s3.timeout_seconds,
    )


async def start_background(container: Container) -> None:
    """Start the outbox loop, the SLA sweeper, the model follower and recovery."""
    container.spawn(container.dispatcher.run_forever(), "outbox")
    if container.sweeper is not None and container.settings.sla.enabled:
        container.spawn(
            sweep_forever(container.sweeper, container.settings.sla.sweep_seconds), "sla-sweeper"
        )
    if isinstance(container.interpreter, ActiveInterpreter):
        container.spawn(
            container.interpreter.follow(container.models, container.settings.model_watch_seconds),
            "model-follower",
        )
    container.spawn(
        container.service.recover_forever(container.settings.reliability.recovery_every_seconds),
        "recover-inbound",
    )
    if container.service.journal is not None:
        container.spawn(
            container.service.drain_journal_forever(
                container.settings.reliability.journal_drain_seconds
            ),
            "drain-journal",
        )
    if container.settings.privacy.purge_daily:
        container.spawn(_purge_daily(container), "privacy-purge")
    if container.settings.jobs.runner == "app":
        loop = asyncio.get_running_loop()
        dispatcher = container.dispatcher

        def wake_outbox() -> None:  # called from the runner's thread
            loop.call_soon_threadsafe(dispatcher.kick)

        container.jobs = ThreadRunner(container.settings, container.clock, wake_outbox)
        await asyncio.to_thread(container.jobs.start)


async def _purge_daily(container: Container) -> None:
    """Retention once a day (first an hour after start, so a restart loop does not hammer
    the database), as a job of the queue; not queued again while one waits or runs."""
    from bot.jobqueue import submit

    await asyncio.sleep(3600)
    while True:
        try:
            async with container.store.unit() as uow:
                waiting = [j for j in await uow.nlu_data.unfinished_jobs() if j.kind == "purge"]
            if not waiting:
                days = container.settings.privacy.retention_days
                job_id = await submit(
                    container.store, container.clock, "purge", {"days": days}, "daily"
                )
                log.info("privacy purge queued as job %s", job_id)
        except Exception:
            log.exception("queueing the privacy purge failed")
        await asyncio.sleep(86400)
