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
    S->>DB: record inbound (unique channel+message id)
    S->>K: lock conversation, load state
    S->>S: parse (NLU), step (pure)
    S->>DB: tickets, events, outbox, inbound done — commit
    S->>K: save state, unlock
    S-->>C: replies
```
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

# re-exported (``as``): bot/ and the channels import these from here
from handlers.codec import inbound_from_dict as inbound_from_dict
from handlers.codec import inbound_to_dict as inbound_to_dict
from handlers.codec import outbound_from_dict as outbound_from_dict
from handlers.codec import outbound_to_dict as outbound_to_dict
from handlers.conversations.context import RegistryCache
from handlers.conversations.department import DepartmentConversation
from handlers.conversations.resident import ResidentConversation
from handlers.conversations.worker import WorkerConversation
from handlers.dialogue import DialogueConfig, DialogueState
from handlers.i18n import locale_of, t
from handlers.messages import Inbound, Outbound
from handlers.ports import Clock, Interpreter
from handlers.privacy import mask_id
from handlers.ticket_service import LifecycleConfig, TicketService
from nlu.types import Parse
from storage.interfaces import SessionStore, Store

log = logging.getLogger("minhu.service")


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


@dataclass(frozen=True, slots=True)
class Receipt:
    """What `receive` did with a message: stored it now, or saw it before."""

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

    Staff operations (the admin console, the APIs) go to ``tickets`` directly.
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
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.interpreter = interpreter
        self.clock = clock
        self.config = config or ServiceConfig()
        self._on_outbox = on_outbox or (lambda: None)
        self._registry = RegistryCache(store, self.config.registry_cache_seconds)
        self.tickets = tickets or TicketService(
            store=store, clock=clock, config=self.config.lifecycle, on_outbox=self._on_outbox
        )
        self._residents = ResidentConversation(self.tickets, clock)
        self._workers = WorkerConversation(self.tickets)
        self._departments = DepartmentConversation(self.tickets)

    # --- entry points ---------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> list[Outbound]:
        """Receive and process one message; a platform retry gets the first answer again."""
        receipt = await self.receive(msg)
        if not receipt.new:
            if receipt.status == "done":
                return list(receipt.replies)
            if receipt.status == "failed":
                return [Outbound(text=t("error_apology", self._locale(msg)))]
            return [Outbound(text=t("busy", self._locale(msg)))]
        return await self.process(receipt.inbound_id, msg)

    async def receive(self, msg: Inbound) -> Receipt:
        """Persist the inbound message first, so nothing a resident sent is ever lost."""
        async with self.store.unit() as uow:
            row, new = await uow.inbound.record(
                msg.channel, msg.message_id, msg.user_id, inbound_to_dict(msg), now=self.clock.now()
            )
            replies = tuple(outbound_from_dict(r) for r in row.replies or [])
            if row.id is None:  # pragma: no cover - flushed rows have ids
                raise RuntimeError("inbound row without id")
            return Receipt(row.id, new, row.status, replies)

    async def process(self, inbound_id: int, msg: Inbound) -> list[Outbound]:
        """Handle a stored message under the conversation lock; apologise on any failure."""
        key = f"conv:{msg.channel}:{msg.user_id}"
        started = time.perf_counter()
        try:
            async with self.sessions.lock(key, timeout=self.config.lock_timeout_seconds):
                state = DialogueState.from_dict(await self.sessions.load(key))
                replies, state, parse, queued = await self._process_locked(inbound_id, msg, state)
                await self.sessions.save(
                    key, state.to_dict(), ttl_seconds=self.config.conversation_ttl_seconds * 2
                )
        except Exception as e:
            log.exception(
                "processing failed: channel=%s user=%s inbound=%s",
                msg.channel,
                mask_id(msg.user_id),
                inbound_id,
            )
            await self._mark_failed(inbound_id, e)
            return [Outbound(text=t("error_apology", self._locale(msg)))]
        if queued:
            self._on_outbox()
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

    async def recover(
        self, *, min_age_seconds: float = 60, max_age_seconds: float = 3600, limit: int = 100
    ) -> int:
        """Re-process recent messages whose processing failed or was cut off by a crash.

        The resident already had an apology (or nothing, after a crash), so the real answer
        is pushed to them through the outbox. Older messages stay stored for staff to read.
        """
        now = self.clock.now()
        async with self.store.unit() as uow:
            rows = [*await uow.inbound.with_status("failed", limit=limit)]
            rows += await uow.inbound.with_status("received", limit=limit)
        done = 0
        for row in rows:
            age = (now - row.received_at).total_seconds()
            # younger rows may be in flight in another process; a claim stops two recoverers
            if row.id is None or not min_age_seconds <= age <= max_age_seconds:
                continue
            if not await self.sessions.claim(f"recover:{row.id}", ttl_seconds=3600):
                continue
            msg = inbound_from_dict(row.payload)
            replies = await self.process(row.id, msg)
            async with self.store.unit() as uow:
                stored = await uow.inbound.get(row.id)
                if stored is None or stored.status != "done":
                    continue
                for reply in replies:
                    await uow.outbox.enqueue(
                        msg.channel, msg.user_id, outbound_to_dict(reply), now=self.clock.now()
                    )
            done += 1
            self._on_outbox()
        return done

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
        parse = await self.interpreter.parse(msg.text, registry.hints) if msg.text.strip() else None
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
                    replies, state = await self._workers.turn(uow, worker, msg, state)
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
        try:
            async with self.store.unit() as uow:
                await uow.inbound.update(
                    inbound_id,
                    status="failed",
                    now=self.clock.now(),
                    error=f"{type(error).__name__}: {error}",
                )
        except Exception:
            log.exception("could not mark inbound %s as failed", inbound_id)

    def _locale(self, msg: Inbound) -> str:
        return locale_of(msg.locale)
