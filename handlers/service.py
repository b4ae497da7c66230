"""The entry point for every inbound message: receive, lock, pick the conversation, persist.

Who the sender is picks the conversation (handlers/conversations): a bound grid worker's
identity → ``WorkerConversation``; a department's contact → ``DepartmentConversation``;
anyone else → ``ResidentConversation`` (the dialogue policy). The conversations act through
the ticket service.

```mermaid
sequenceDiagram
    participant C as channel
    participant S as service
    participant DB as store (one transaction)
    participant K as session store
    C->>S: Inbound
    S->>DB: record inbound (unique channel+message id; one INSERT for arrivals together)
    S->>K: lock conversation, load state
    S->>S: parse (NLU), step (pure)
    S->>DB: tickets, events, outbox, inbound done — commit
    S->>K: save state, unlock
    S-->>C: replies
```
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

# re-exported (``as``): bot/ and the channels import these from here
from handlers.codec import inbound_from_dict as inbound_from_dict
from handlers.codec import inbound_to_dict as inbound_to_dict
from handlers.codec import outbound_from_dict as outbound_from_dict
from handlers.codec import outbound_to_dict as outbound_to_dict
from handlers.conversations.context import RegistryCache
from handlers.conversations.department import DepartmentConversation
from handlers.conversations.resident import ResidentConversation
from handlers.conversations.worker import WorkerConversation
from handlers.desk_report_service import DeskReports
from handlers.dialogue import DialogueConfig, DialogueState
from handlers.helper_registry_service import HelperRegistry
from handlers.i18n import locale_of, t
from handlers.intake_service import InboundBatcher
from handlers.messages import Inbound, Outbound
from handlers.notice_service import NoticeService
from handlers.people_service import PeopleService
from handlers.ports import Clock, Interpreter, MessageMetrics, NoMetrics
from handlers.privacy import mask_id
from handlers.throttle_service import RateLimits
from handlers.ticket_service import LifecycleConfig, TicketService
from nlu.types import Parse
from storage.errors import StorageError, StorageUnavailable
from storage.interfaces import NewInbound, SessionStore, Store, UnitOfWork
from storage.journal import InboundJournal, JournalEntry, new_owner

log = logging.getLogger("minhu.service")

DRAIN_TRIES = 3
"""Drain passes a journaled message gets before it is set aside (`drain_journal`)."""


# --- configuration and results ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """The dialogue's flows and thresholds, conversation TTL, lock wait, limits, lifecycle."""

    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    conversation_ttl_seconds: int = 1800
    lock_timeout_seconds: float = 15.0
    max_text: int = 2000
    registry_cache_seconds: float = 5.0
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    recovery: RecoveryPolicy = field(default_factory=lambda: RecoveryPolicy())
    sms: bool = False  # text messages can be sent (residents who reported by phone)
    # arrivals are stored in batches (handlers/intake_service.py): how long one waits for
    # company when nothing is being written, and how many one INSERT holds
    intake_window_seconds: float = 0.005
    intake_max_rows: int = 64


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """How failed or stuck inbound messages are re-processed (`MinhuService.recover`)."""

    stuck_seconds: float = 30.0  # still "received" this long after arriving: its owner died
    lease_seconds: float = 120.0
    max_attempts: int = 6
    base_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 600.0


@dataclass(frozen=True, slots=True)
class Receipt:
    """What `receive` did with a message: stored it now, saw it before, or journaled it
    (status ``journaled``, no row yet: the database was unreachable; `drain_journal` stores
    and processes it later and pushes the answer)."""

    inbound_id: int
    new: bool
    status: str
    replies: tuple[Outbound, ...] = ()


class MinhuService:
    """Receives every inbound message and runs it through dialogue, tickets and notifications.

    Args:
        store: units of work over the database (one transaction each).
        sessions: conversation state with a per-conversation lock.
        interpreter: the NLU (in-process model or an external Rasa server).
        clock: the time source (tests inject a fake one).
        config: dialogue thresholds, TTLs, limits and the lifecycle policies.
        on_outbox: called after a commit that queued pushed messages (wakes the dispatcher).
        tickets: the ticket operations (built from the above when not given).
        journal: where messages wait while the database is unreachable (storage/journal.py);
            without one such a message is refused with ``StorageUnavailable``.

    Staff operations (the admin console, the APIs) go to ``tickets``, ``notices``, ``people``
    and ``helpers`` (building heads and volunteers on tickets; their registry) and
    ``desk_reports`` (phone and counter reports) directly.
    """

    def __init__(
        self,
        *,
        store: Store,
        sessions: SessionStore,
        interpreter: Interpreter,
        clock: Clock,
        config: ServiceConfig | None = None,
        on_outbox: Callable[[], None] | None = None,
        tickets: TicketService | None = None,
        rates: RateLimits | None = None,
        metrics: MessageMetrics | None = None,
        journal: InboundJournal | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self._journal_owner = new_owner()
        self._journal_down = False
        self._drain_failures: dict[str, int] = {}
        self.metrics = metrics or NoMetrics()
        self.sessions = sessions
        self.interpreter = interpreter
        self.clock = clock
        self.config = config or ServiceConfig()
        self._on_outbox = on_outbox or (lambda: None)
        self._registry = RegistryCache(store, self.config.registry_cache_seconds)
        self.intake = InboundBatcher(
            store,
            clock,
            on_outbox=self._on_outbox,
            window_seconds=self.config.intake_window_seconds,
            max_rows=self.config.intake_max_rows,
        )
        self.tickets = tickets or TicketService(
            store=store, clock=clock, config=self.config.lifecycle, on_outbox=self._on_outbox
        )
        self.rates = rates
        self.notices = NoticeService(store, clock, self._on_outbox)
        self.people = PeopleService(
            store, clock, self.tickets, self._on_outbox, sms=self.config.sms
        )
        self.helpers = HelperRegistry(store, clock)
        self.desk_reports = DeskReports(
            store, clock, self.tickets, sms=self.config.sms, on_outbox=self._on_outbox
        )
        self._residents = ResidentConversation(
            self.tickets, clock, rates, self.notices, people=self.people
        )
        self._workers = WorkerConversation(self.tickets, self.notices, people=self.people)
        self._departments = DepartmentConversation(self.tickets)

    # --- entry points ---------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> list[Outbound]:
        """Receive and process one message; a platform retry gets the first answer again.

        A flood (per identity, and per address when the channel knows it) is answered
        politely and not stored: that is what keeps invented ids from filling the database.
        """
        limited = await self._rate_limited(msg)
        if limited is not None:
            return limited
        receipt = await self.receive(msg)
        if not receipt.new:
            return await self._answer_seen(msg, receipt)
        return await self.process(receipt.inbound_id, msg)

    async def handle_within(
        self,
        msg: Inbound,
        seconds: float,
        turns: asyncio.Semaphore,
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
    ) -> list[Outbound]:
        """`handle`, answering by ``seconds`` whatever the load once the message is stored.

        An overloaded process still stores a new message first and answers it: with the
        turn's replies when it finishes in time, otherwise with the holding reply, and the
        turn goes on in the background (at most ``turns`` at once) and pushes its replies.
        A sender who times out and retries would only add load; one who gets no answer at
        all may give up and the message would be lost if it were never stored.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        limited = await self._rate_limited(msg)
        if limited is not None:
            return limited
        receipt = await self.receive(msg)
        if not receipt.new:
            return await self._answer_seen(msg, receipt)
        late = asyncio.Event()
        task = spawn(self._turn_then_push(receipt.inbound_id, msg, turns, late), "web-turn")
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                replies: list[Outbound] = await asyncio.shield(task)
                return replies
        except TimeoutError:
            late.set()  # the turn pushes its replies when it ends (same event loop: no race)
            if task.done() and not task.cancelled() and task.exception() is None:
                return list(task.result())
            self.metrics.message(msg.channel, "answered_later")
            return [Outbound(text=t("holding", self._locale(msg)))]

    async def _turn_then_push(
        self, inbound_id: int, msg: Inbound, turns: asyncio.Semaphore, late: asyncio.Event
    ) -> list[Outbound]:
        async with turns:
            replies = await self.process(inbound_id, msg)
        if late.is_set():
            async with self.store.unit() as uow:
                stored = await uow.inbound.get(inbound_id)
                if stored is None or stored.status != "done":
                    return replies  # failed: the recovery loop retries it and pushes the answer
                await self.push_replies(uow, inbound_id, msg, replies)
            self._on_outbox()
        return replies

    async def _rate_limited(self, msg: Inbound) -> list[Outbound] | None:
        if self.rates is None:
            return None
        wait = await self.rates.allow("message", f"{msg.channel}:{msg.user_id}", msg.origin)
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        self.metrics.message(msg.channel, "rate_limited")
        return [Outbound(text=t("rate.message", self._locale(msg), seconds=seconds))]

    async def _answer_seen(self, msg: Inbound, receipt: Receipt) -> list[Outbound]:
        if receipt.status == "journaled":
            return [Outbound(text=t("journaled", self._locale(msg)))]
        if receipt.status == "done":
            return list(receipt.replies)
        if receipt.status == "failed":
            return [Outbound(text=t("error_apology", self._locale(msg)))]
        return [Outbound(text=t("busy", self._locale(msg)))]

    async def receive(self, msg: Inbound, *, journal: bool = True) -> Receipt:
        """Persist the inbound message first, so nothing a resident sent is ever lost.

        With the database unreachable the message goes to the journal (when there is one),
        and so does every later message of a sender who still has some there: their order
        is kept. Both down: ``StorageUnavailable`` (the platform retries). ``journal=False``:
        a message the channel answers itself, not through a dialogue turn (the drain would
        give it one) is refused instead while the database is down.
        """
        use = self.journal is not None and journal
        if use and await self._journal_holds(msg):
            return await self._to_journal(msg)
        try:
            return await self._record(msg)
        except StorageUnavailable as e:
            if not use:
                raise
            log.warning("database unreachable, journaling inbound: %s", type(e).__name__)
            return await self._to_journal(msg)

    async def _journal_holds(self, msg: Inbound) -> bool:
        if self.journal is None:
            return False
        try:
            return await self.journal.holds(msg.channel, msg.user_id)
        except StorageError:
            return False  # Redis down: nothing can be journaled meanwhile either

    async def _to_journal(self, msg: Inbound) -> Receipt:
        if self.journal is None:  # pragma: no cover - callers check
            raise StorageUnavailable("no inbound journal")
        try:
            added = await self.journal.append(
                msg.channel,
                msg.message_id,
                msg.user_id,
                inbound_to_dict(msg),
                received_at=self.clock.now(),
            )
        except StorageError as e:
            raise StorageUnavailable(f"database and inbound journal both unreachable: {e}") from e
        self.metrics.message(msg.channel, "journaled" if added else "duplicate")
        return Receipt(0, False, "journaled")

    async def _record(self, msg: Inbound) -> Receipt:
        # stored together with whatever else arrives meanwhile (handlers/intake_service.py)
        stored = await self.intake.record(
            NewInbound(msg.channel, msg.message_id, msg.user_id, inbound_to_dict(msg))
        )
        row = stored.row
        if row.id is None:  # pragma: no cover - inserted rows have ids
            raise RuntimeError("inbound row without id")
        if not stored.new:  # a platform retry or a replayed message id
            self.metrics.message(msg.channel, "duplicate")
        replies = tuple(outbound_from_dict(r) for r in row.replies or [])
        return Receipt(row.id, stored.new, row.status, replies)

    async def process(self, inbound_id: int, msg: Inbound) -> list[Outbound]:
        """Handle a stored message under the conversation lock; apologise on any failure.

        The turn's effects (tickets, events, outbox) and the message's ``done`` commit in one
        transaction. What fails after that commit (saving the conversation state, releasing
        the lock) is logged but leaves the message done: running it again would repeat them.
        """
        key = f"conv:{msg.channel}:{msg.user_id}"
        started = time.perf_counter()
        committed: tuple[list[Outbound], Parse | None, bool] | None = None
        try:
            async with self.sessions.lock(key, timeout=self.config.lock_timeout_seconds):
                state = DialogueState.from_dict(await self.sessions.load(key))
                replies, state, parse, queued = await self._process_locked(inbound_id, msg, state)
                committed = (replies, parse, queued)
                await self.sessions.save(
                    key, state.to_dict(), ttl_seconds=self.config.conversation_ttl_seconds * 2
                )
        except Exception as e:
            if committed is None:
                log.exception(
                    "processing failed: channel=%s user=%s inbound=%s",
                    msg.channel,
                    mask_id(msg.user_id),
                    inbound_id,
                )
                await self._mark_failed(inbound_id, e)
                self.metrics.message(msg.channel, "failed", time.perf_counter() - started)
                return [Outbound(text=t("error_apology", self._locale(msg)))]
            log.warning(
                "inbound %s done, but its conversation state was not saved: %s: %s",
                inbound_id,
                type(e).__name__,
                e,
            )
        replies, parse, queued = committed
        if queued:
            self._on_outbox()
        self.metrics.message(msg.channel, "handled", time.perf_counter() - started)
        log.info(
            "handled channel=%s user=%s intent=%s conf=%.2f replies=%d in %.1f ms",
            msg.channel,
            mask_id(msg.user_id),
            parse.intent.name if parse else "-",
            parse.intent.confidence if parse else 0.0,
            len(replies),
            (time.perf_counter() - started) * 1000,
        )
        return replies

    async def recover(self, *, limit: int = 20) -> int:
        """Re-process failed or stuck messages, oldest first; push each answer exactly once.

        Every process runs this periodically (`recover_forever`). A message is stuck when it
        is still ``received`` after ``recovery.stuck_seconds`` (its owner died mid-way); a
        failed one is retried with backoff up to ``recovery.max_attempts``. A lease keeps
        the others off a row while one process works on it. The resident had an apology, a
        holding reply or nothing, so the answer goes out through the outbox, under a key per
        message (``reply:<id>:<n>``) that no second recoverer or late push can queue again.
        """
        policy = self.config.recovery
        now = self.clock.now()
        async with self.store.unit() as uow:
            rows = await uow.recovery.claim_inbound(
                now,
                stuck_before=now - timedelta(seconds=policy.stuck_seconds),
                limit=limit,
                lease_seconds=policy.lease_seconds,
                max_attempts=policy.max_attempts,
            )
        done = 0
        for row in rows:
            if row.id is None:  # pragma: no cover - stored rows have ids
                continue
            msg = inbound_from_dict(row.payload)
            replies = await self.process(row.id, msg)
            async with self.store.unit() as uow:
                stored = await uow.inbound.get(row.id)
                if stored is None or stored.status != "done":
                    await uow.recovery.release_inbound(row.id)
                    continue
                await self.push_replies(uow, row.id, msg, replies)
            done += 1
            self._on_outbox()
        return done

    async def push_replies(
        self, uow: UnitOfWork, inbound_id: int, msg: Inbound, replies: list[Outbound]
    ) -> int:
        """Queue a message's replies for pushing, once per message whoever calls it."""
        now = self.clock.now()
        queued = 0
        for n, reply in enumerate(replies):
            if await uow.recovery.enqueue_once(
                msg.channel,
                msg.user_id,
                outbound_to_dict(reply),
                now=now,
                key=f"reply:{inbound_id}:{n}",
                priority=1 if reply.urgent else 0,
            ):
                queued += 1
        return queued

    async def drain_journal(self, *, limit: int = 50, lease_seconds: float = 30.0) -> int:
        """Store and process journaled messages, oldest first; push each answer.

        One process at a time (a lease); any process may. An entry leaves the journal only
        once its row is committed, and a row already there (a retry stored it, or a drain
        died before forgetting the entry) is not processed again here: the recovery loop
        finishes whatever is left ``received``. The sender was told the message was saved,
        so the answer is always pushed (by the recovery loop when processing failed).
        """
        journal = self.journal
        if journal is None or not await journal.pending(1):
            return 0
        owner = self._journal_owner
        if not await journal.lease(owner, lease_seconds):
            return 0
        drained = 0
        held: set[tuple[str, str]] = set()  # senders whose earlier message failed this pass
        try:
            for entry in await journal.pending(limit):
                if (entry.channel, entry.user_id) in held:
                    continue  # behind their own failed message: theirs keep their order
                try:
                    await self._drain_one(entry)
                except StorageUnavailable:
                    raise  # the database went away again: stop, everything stays journaled
                except Exception as e:
                    if not await self._drain_failed(journal, entry, e):
                        held.add((entry.channel, entry.user_id))
                        continue
                else:
                    await journal.ack(entry)
                    self._drain_failures.pop(entry.entry_id, None)
                drained += 1
                if not await journal.lease(owner, lease_seconds):
                    break  # our lease lapsed and another process took over
        finally:
            with contextlib.suppress(StorageError):
                await journal.release(owner)
        return drained

    async def _drain_failed(
        self, journal: InboundJournal, entry: JournalEntry, error: Exception
    ) -> bool:
        """One entry could not be stored or processed (the database itself answers). Tried
        again on the next passes while the rest drain; set aside after a few tries, so one bad
        entry never holds up every message journaled after it. True when set aside."""
        tries = self._drain_failures.get(entry.entry_id, 0) + 1
        self._drain_failures[entry.entry_id] = tries
        log.error(
            "journaled message %s (%s) failed to drain, try %d of %d: %s",
            entry.entry_id,
            entry.channel,
            tries,
            DRAIN_TRIES,
            type(error).__name__,  # the error's text may quote the resident's message
        )
        if tries < DRAIN_TRIES:
            return False
        await journal.bury(entry, f"{type(error).__name__} after {tries} tries")
        self._drain_failures.pop(entry.entry_id, None)
        self.metrics.message(entry.channel, "buried")
        log.error(
            "journaled message %s (%s) set aside in the journal's buried list "
            "(`minhu journal buried`)",
            entry.entry_id,
            entry.channel,
        )
        return True

    async def _drain_one(self, entry: JournalEntry) -> None:
        msg = inbound_from_dict(entry.payload)
        receipt = await self._record(msg)
        self.metrics.message(msg.channel, "drained")
        if not receipt.new:
            return
        replies = await self.process(receipt.inbound_id, msg)
        async with self.store.unit() as uow:
            stored = await uow.inbound.get(receipt.inbound_id)
            if stored is None or stored.status != "done":
                return  # failed: the recovery loop retries it and pushes the answer
            await self.push_replies(uow, receipt.inbound_id, msg, replies)
        self._on_outbox()

    async def drain_journal_forever(self, every_seconds: float) -> None:
        """Drain the journal whenever it holds something (errors are logged, not fatal)."""
        while True:
            try:
                count = await self.drain_journal()
                if self._journal_down:
                    log.info("inbound journal drain works again")
                self._journal_down = False
            except asyncio.CancelledError:
                raise
            except StorageError as e:
                # the database (or Redis) is still down: say so once, not every second
                if not self._journal_down:
                    log.warning("inbound journal not drained yet: %s", e)
                self._journal_down = True
                count = 0
            except Exception:
                log.exception("inbound journal drain failed")
                count = 0
            if count:
                log.info("moved %d journaled inbound messages into the database", count)
                continue
            await asyncio.sleep(every_seconds)

    async def recover_forever(self, every_seconds: float) -> None:
        """The recovery loop each process runs for its lifetime (errors are logged, not fatal)."""
        while True:
            try:
                count = await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recovery sweep failed; trying again in %.0f s", every_seconds)
                count = 0
            if count:
                log.info("re-processed %d stored inbound messages", count)
                continue
            await asyncio.sleep(every_seconds)

    def invalidate_registry(self) -> None:
        """Forget cached buildings/hints (call after the registry changes)."""
        self._registry.invalidate()

    # --- the locked part ---------------------------------------------------------------------

    async def _process_locked(
        self, inbound_id: int, msg: Inbound, state: DialogueState
    ) -> tuple[list[Outbound], DialogueState, Parse | None, bool]:
        now = self.clock.now()
        registry = await self._registry.get()
        text = msg.text.strip()
        notices: list[Outbound] = []
        if len(text) > self.config.max_text:
            notices.append(
                Outbound(text=t("too_long", self._locale(msg), limit=self.config.max_text))
            )
            msg = replace(msg, text=text[: self.config.max_text])
        # parse before taking a database connection: the pool is not held while NLU runs
        parse = None
        if msg.text.strip():
            parsing = time.perf_counter()
            parse = await self.interpreter.parse(msg.text, registry.hints)
            self.metrics.parsed(time.perf_counter() - parsing)
        async with self.store.unit() as uow:
            identity = await uow.registry.identity(msg.channel, msg.user_id)
            department = (
                None
                if identity is not None and identity.worker_id is not None
                else await uow.departments.by_contact(msg.channel, msg.user_id)
            )
            if identity is not None and identity.worker_id is not None:
                worker = await uow.registry.worker(identity.worker_id)
                if worker is None or not worker.active:
                    replies, state = [Outbound(text=t("not_understood", self._locale(msg)))], state
                else:
                    await uow.registry.touch_identity(msg.channel, msg.user_id, now)
                    replies, state = await self._workers.turn(uow, worker, msg, state, parse)
            elif department is not None and department[0].active:
                replies, state = await self._departments.turn(
                    uow, department[0], department[1], msg, state
                )
            else:
                dialogue = replace(
                    self.config.dialogue,
                    clarify_threshold=self.interpreter.thresholds.clarify,
                    ttl_seconds=self.config.conversation_ttl_seconds,
                )
                replies, state = await self._residents.turn(
                    uow, msg, parse, state, registry, dialogue
                )
            replies = notices + replies
            await uow.inbound.update(
                inbound_id,
                status="done",
                now=now,
                replies=[outbound_to_dict(r) for r in replies],
                intent=parse.intent.name if parse else "",
                confidence=parse.intent.confidence if parse else None,
            )
            queued = uow.queued > 0
        return replies, state, parse, queued

    async def _mark_failed(self, inbound_id: int, error: Exception) -> None:
        policy = self.config.recovery
        try:
            async with self.store.unit() as uow:
                row = await uow.inbound.get(inbound_id)
                attempts = row.attempts if row is not None else 0
                delay = min(policy.max_backoff_seconds, policy.base_backoff_seconds * 2**attempts)
                await uow.recovery.mark_failed(
                    inbound_id,
                    now=self.clock.now(),
                    error=f"{type(error).__name__}: {error}",
                    retry_at=self.clock.now() + timedelta(seconds=delay),
                )
        except Exception:
            log.exception("could not mark inbound %s as failed", inbound_id)

    def _locale(self, msg: Inbound) -> str:
        return locale_of(msg.locale)
