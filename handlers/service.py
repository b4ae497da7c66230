"""The one place in handlers/ that does I/O: receive, understand, act, persist, notify.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, assert_never

from handlers.address import BuildingRef

# re-exported (``as``): bot/ and the channels import these from here
from handlers.codec import inbound_from_dict as inbound_from_dict
from handlers.codec import inbound_to_dict as inbound_to_dict
from handlers.codec import outbound_from_dict as outbound_from_dict
from handlers.codec import outbound_to_dict as outbound_to_dict
from handlers.departments import (
    DepartmentInput,
    DeptCommand,
    parse_department_button,
    parse_department_text,
    resolve_department,
    suggested,
)
from handlers.dialogue import (
    Action,
    AddContactPhone,
    AddSupplement,
    CreateTicket,
    DialogueConfig,
    DialogueState,
    FollowTicket,
    RateTicket,
    RequestCallback,
    ResidentContext,
    Stage,
    TicketBrief,
    location_text,
    mask_phone,
    offer_duplicate,
    step,
    ticket_numbers,
)
from handlers.errors import InvalidTransition
from handlers.flows import category_label, flow_for_category
from handlers.i18n import locale_of, status_text, t
from handlers.lifecycle import OPEN, Actor, Move, is_open, is_waiting, next_status
from handlers.messages import Button, Inbound, MediaKind, Outbound
from handlers.notices import LOCAL_TZ, task_buttons, worker_notice
from handlers.ports import Clock, Interpreter
from handlers.privacy import mask_id
from handlers.routing import route, route_to_target
from handlers.ticket_service import (
    PUBLIC_NOTE_KINDS,
    LifecycleConfig,
    TicketService,
    department_ref,
    facts_of,
)
from handlers.worker import (
    ACTION_NAMES,
    NEEDS_NOTE,
    Command,
    WorkerCommand,
    parse_button,
    parse_command,
)
from nlu.types import BuildingHint, Hints, Parse
from storage.interfaces import SessionStore, Store, UnitOfWork
from storage.models import (
    Department,
    DepartmentContact,
    GridWorker,
    Resident,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketFollower,
)

log = logging.getLogger("minhu.service")

OPEN_STATUSES = tuple(s.value for s in OPEN)


# --- configuration and results ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceConfig:
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


@dataclass(slots=True)
class _Registry:
    buildings: tuple[BuildingRef, ...]
    hints: Hints
    loaded: float


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

    Staff operations for the admin console (each its own transaction, taking an ``Actor``):
    ``merge``, ``hand_to_department``, ``department_reply``, ``add_note``, ``close``,
    ``cancel``, ``escalate``, ``timeline``, ``followers``, ``clocks``, ``departments``,
    ``register_department``.
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
        self._registry: _Registry | None = None
        self.tickets = tickets or TicketService(
            store=store, clock=clock, config=self.config.lifecycle, on_outbox=self._on_outbox
        )

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
        self._registry = None

    # --- the locked part ---------------------------------------------------------------------

    async def _process_locked(
        self, inbound_id: int, msg: Inbound, state: DialogueState
    ) -> tuple[list[Outbound], DialogueState, Parse | None, bool]:
        now = self.clock.now()
        registry = await self._load_registry()
        async with self.store.unit() as uow:
            identity = await uow.registry.identity(msg.channel, msg.user_id)
            text = msg.text.strip()
            notices: list[Outbound] = []
            if len(text) > self.config.max_text:
                notices.append(
                    Outbound(text=t("too_long", self._locale(msg), limit=self.config.max_text))
                )
                msg = replace(msg, text=text[: self.config.max_text])
            parse = (
                await self.interpreter.parse(msg.text, registry.hints) if msg.text.strip() else None
            )
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
                    replies, state = await self._worker_turn(uow, worker, msg, state)
            elif department is not None and department[0].active:
                replies, state = await self._department_turn(
                    uow, department[0], department[1], msg, state
                )
            else:
                replies, state = await self._resident_turn(uow, msg, parse, state, registry)
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

    # --- registry cache ----------------------------------------------------------------------

    async def _load_registry(self) -> _Registry:
        cached = self._registry
        if (
            cached is not None
            and time.monotonic() - cached.loaded < self.config.registry_cache_seconds
        ):
            return cached
        async with self.store.unit() as uow:
            communities = {c.id: c.name for c in await uow.registry.communities()}
            rows = await uow.registry.buildings()
        buildings = tuple(
            BuildingRef(
                id=b.id or 0,
                name=b.name,
                aliases=tuple(b.aliases or ()),
                community_id=b.community_id,
                community=communities.get(b.community_id, ""),
                grid_id=b.grid_id,
                latitude=b.latitude,
                longitude=b.longitude,
            )
            for b in rows
        )
        hints = Hints(
            buildings=tuple(BuildingHint(b.name, b.aliases, b.community) for b in buildings),
            communities=tuple(communities.values()),
        )
        self._registry = _Registry(buildings, hints, time.monotonic())
        return self._registry

    # --- residents ---------------------------------------------------------------------------

    async def _resident_turn(
        self,
        uow: UnitOfWork,
        msg: Inbound,
        parse: Parse | None,
        state: DialogueState,
        registry: _Registry,
    ) -> tuple[list[Outbound], DialogueState]:
        now = self.clock.now()
        resident, _identity = await uow.registry.ensure_resident(
            msg.channel, msg.user_id, locale=locale_of(msg.locale), now=now
        )
        if msg.locale and locale_of(msg.locale) != resident.locale:
            resident.locale = locale_of(msg.locale)
            await uow.registry.save(resident)
        msg = await self._apply_scene(msg, registry, state)
        ctx = await self._context(uow, resident, registry, now, msg)
        cfg = replace(
            self.config.dialogue,
            clarify_threshold=self.interpreter.thresholds.clarify,
            ttl_seconds=self.config.conversation_ttl_seconds,
        )
        turn = step(state, msg, parse, ctx, cfg)
        replies = list(turn.replies)
        for action in turn.actions:
            replies += await self._run(uow, action, resident, msg, turn.state)
        replies += turn.after
        return replies, turn.state

    async def _apply_scene(
        self, msg: Inbound, registry: _Registry, state: DialogueState
    ) -> Inbound:
        """A stairwell QR code names a building: start a report with the building known."""
        if not msg.scene or not msg.scene.startswith("building:"):
            return msg
        ident = msg.scene.removeprefix("building:")
        match = [b for b in registry.buildings if str(b.id) == ident]
        if not match:
            return msg
        building = match[0]
        # a fresh report: nothing of an older conversation (nor its age) carries over
        state.updated_at = None
        state.candidates = []
        state.urgent = state.editing = False
        state.retries = 0
        state.ticket = None
        state.stage = Stage.FILLING
        state.flow = None
        state.asking = "description"
        state.slots = {
            "building": str(building.id),
            "building_id": str(building.id),
            "building_name": building.display(),
        }
        return replace(msg, scene=None)

    async def _context(
        self,
        uow: UnitOfWork,
        resident: Resident,
        registry: _Registry,
        now: datetime,
        msg: Inbound,
    ) -> ResidentContext:
        home = None
        if resident.building_id is not None:
            home = next((b for b in registry.buildings if b.id == resident.building_id), None)
        open_rows = await uow.tickets.for_resident(resident.id or 0, statuses=OPEN_STATUSES)
        resolved = await uow.tickets.for_resident(resident.id or 0, statuses=("resolved",))
        followed = await uow.followers.followed_tickets(
            msg.channel, msg.user_id, statuses=OPEN_STATUSES
        )
        locale = resident.locale
        return ResidentContext(
            now=now,
            locale=locale,
            phone=resident.phone,
            home=home,
            unit=resident.unit,
            room=resident.room,
            community_id=resident.community_id,
            buildings=registry.buildings,
            open_tickets=tuple([await self._brief(uow, tk, locale) for tk in open_rows]),
            awaiting_rating=tuple([await self._brief(uow, tk, locale) for tk in resolved]),
            followed_tickets=tuple([await self._brief(uow, tk, locale) for tk in followed]),
        )

    async def _brief(self, uow: UnitOfWork, ticket: Ticket, locale: str) -> TicketBrief:
        events = await uow.tickets.events(ticket.id or 0)
        notes = [e.note for e in events if e.kind in PUBLIC_NOTE_KINDS and e.note]
        return TicketBrief(
            number=ticket.number,
            category=ticket.category,
            status=ticket.status,
            location=facts_of(ticket).location(locale),
            priority=ticket.priority,
            last_note=notes[-1] if notes else "",
        )

    async def _run(
        self,
        uow: UnitOfWork,
        action: Action,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        if isinstance(action, CreateTicket):
            return await self._create_ticket(uow, action, resident, msg, state)
        if isinstance(action, RateTicket):
            return await self._rate(uow, action, resident)
        if isinstance(action, AddContactPhone):
            return await self._add_phone(uow, action, resident)
        if isinstance(action, RequestCallback):
            return await self._callback(uow, action, resident)
        if isinstance(action, FollowTicket):
            return await self._follow(uow, action, resident, msg, state)
        if isinstance(action, AddSupplement):
            return await self._supplement(uow, action, resident, msg, state)
        assert_never(action)

    async def _create_ticket(
        self,
        uow: UnitOfWork,
        action: CreateTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        now = self.clock.now()
        locale = resident.locale
        building = await uow.registry.building(action.building_id) if action.building_id else None
        community_id = building.community_id if building else resident.community_id
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if len(communities) == 1 else None
        duplicate = await self.tickets.find_duplicate(
            uow,
            category=action.category,
            community_id=community_id,
            building_id=building.id if building else None,
            latitude=action.latitude,
            longitude=action.longitude,
            channel=msg.channel,
            user_id=msg.user_id,
        )
        if duplicate is not None and not action.allow_duplicate and action.priority != "urgent":
            # hold the report and ask: follow the open ticket, or report anyway
            offer = offer_duplicate(
                state,
                action,
                number=duplicate.ticket.number,
                status=status_text(duplicate.ticket.status, locale),
                own=duplicate.own,
                locale=locale,
            )
            return [offer]
        number = await uow.tickets.next_number(now.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
        extra: dict[str, Any] = dict(action.extra)
        extra.update(nlu_intent=action.nlu_intent, nlu_confidence=round(action.nlu_confidence, 4))
        prefix = ""
        if duplicate is not None:
            # urgent reports are never held back by a question; staff can merge them later
            extra["possible_duplicate_of"] = duplicate.ticket.number
            prefix = t("task.possible_duplicate", "zh", number=duplicate.ticket.number)
        ticket = Ticket(
            number=number,
            community_id=community_id,
            category=action.category,
            priority=action.priority,
            status="submitted",
            description=action.description,
            building_id=building.id if building else None,
            building_name=building.name if building else "",
            unit=action.unit,
            room=action.room,
            location_note=action.location_note,
            latitude=action.latitude,
            longitude=action.longitude,
            grid_id=building.grid_id if building else None,
            resident_id=resident.id,
            channel=msg.channel,
            channel_user_id=msg.user_id,
            contact_phone=action.phone,
            extra=extra,
            created_at=now,
            updated_at=now,
        )
        # remember what the resident told us, so the next report asks less
        if action.phone:
            resident.phone = action.phone
        if building is not None:
            resident.building_id = building.id
            resident.community_id = building.community_id
            resident.unit = action.unit or resident.unit
            resident.room = action.room or resident.room
        elif community_id is not None and resident.community_id is None:
            resident.community_id = community_id
        await uow.registry.save(resident)
        assignee = await self.tickets.file(
            uow,
            ticket,
            actor=Actor.resident(resident.id),
            photos=action.photos,
            card_prefix=prefix,
        )
        if action.followup_phone:
            state.ticket = number
        category = category_label(ticket.category, locale)
        if assignee is None:
            return [
                Outbound(text=t("created.unassigned", locale, number=number, category=category))
            ]
        grid = await uow.registry.grid(assignee.grid_id) if assignee.grid_id else None
        who = t("assignee.worker", locale, grid=grid.name if grid else "", name=assignee.name)
        promise = t("promise.urgent" if ticket.priority == "urgent" else "promise.normal", locale)
        return [
            Outbound(
                text=t(
                    "created",
                    locale,
                    number=number,
                    category=category,
                    assignee=who,
                    promise=promise,
                ),
                kind="ticket_created",
                data={"number": number, "category": ticket.category, "priority": ticket.priority},
            )
        ]

    async def _file_instead(
        self,
        uow: UnitOfWork,
        number: str,
        fallback: CreateTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        """The ticket to follow or add to closed meanwhile: file the held report after all."""
        filed = await self._create_ticket(
            uow, replace(fallback, allow_duplicate=True), resident, msg, state
        )
        return [Outbound(text=t("dup.gone", resident.locale, number=number)), *filed]

    async def _follow(
        self,
        uow: UnitOfWork,
        action: FollowTicket,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        locale = resident.locale
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or not is_open(ticket.status):
            if action.fallback is not None:
                return await self._file_instead(
                    uow, action.number, action.fallback, resident, msg, state
                )
            return [Outbound(text=t("supplement.not_open", locale, number=action.number))]
        added = await self.tickets.follow(
            uow, ticket, channel=msg.channel, user_id=msg.user_id, resident_id=resident.id
        )
        key = "dup.followed" if added else "dup.already_following"
        return [
            Outbound(
                text=t(
                    key, locale, number=ticket.number, status=status_text(ticket.status, locale)
                ),
                kind="following",
                data={"number": ticket.number},
            )
        ]

    async def _supplement(
        self,
        uow: UnitOfWork,
        action: AddSupplement,
        resident: Resident,
        msg: Inbound,
        state: DialogueState,
    ) -> list[Outbound]:
        locale = resident.locale
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or ticket.resident_id != resident.id:
            return [Outbound(text=t("supplement.not_open", locale, number=action.number))]
        if not is_open(ticket.status):
            if action.fallback is not None:
                return await self._file_instead(
                    uow, action.number, action.fallback, resident, msg, state
                )
            return [
                Outbound(
                    text=t(
                        "supplement.closed",
                        locale,
                        number=ticket.number,
                        status=status_text(ticket.status, locale),
                    )
                )
            ]
        who = await self.tickets.supplement(
            uow,
            ticket,
            Actor.resident(resident.id),
            text=action.text,
            photos=action.photos,
        )
        return [Outbound(text=t("supplement.done", locale, number=ticket.number, who=who))]

    async def _rate(
        self, uow: UnitOfWork, action: RateTicket, resident: Resident
    ) -> list[Outbound]:
        ticket = await uow.tickets.by_number(action.number, for_update=True)
        if ticket is None or ticket.resident_id != resident.id or ticket.status != "resolved":
            return [Outbound(text=t("rate.nothing", resident.locale))]
        reply = await self.tickets.rate(
            uow, ticket, action.score, action.comment, Actor.resident(resident.id)
        )
        return [reply]

    async def _add_phone(
        self, uow: UnitOfWork, action: AddContactPhone, resident: Resident
    ) -> list[Outbound]:
        ticket = await uow.tickets.by_number(action.number)
        if ticket is None or ticket.resident_id != resident.id:
            return []
        ticket.contact_phone = action.phone
        ticket.updated_at = self.clock.now()
        await uow.tickets.save(ticket)
        resident.phone = action.phone
        await uow.registry.save(resident)
        await self.tickets.event(
            uow,
            ticket,
            "contact_added",
            Actor.resident(resident.id),
            note=mask_phone(action.phone),
        )
        if ticket.assignee_id:
            await self.tickets.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "push.phone_added", ticket.number, phone=action.phone, status=ticket.status
                ),
                ticket,
            )
        return [Outbound(text=t("phone_added", resident.locale, number=ticket.number))]

    async def _callback(
        self, uow: UnitOfWork, action: RequestCallback, resident: Resident
    ) -> list[Outbound]:
        locale = resident.locale
        resident.phone = action.phone or resident.phone
        await uow.registry.save(resident)
        building = await uow.registry.building(action.building_id) if action.building_id else None
        community_id = building.community_id if building else resident.community_id
        if community_id is None:
            communities = await uow.registry.communities()
            community_id = communities[0].id if communities else None
        snapshot = await self.tickets.snapshot(uow)
        decision = route(
            grid_id=building.grid_id if building else None,
            community_id=community_id,
            grids=snapshot.grids,
            workers=snapshot.workers,
        )
        community = await uow.registry.community(community_id) if community_id else None
        hotline = (
            t("human.hotline", locale, hotline=community.hotline)
            if community and community.hotline
            else ""
        )
        if decision.worker is None:
            return [Outbound(text=t("human.who.staff", locale) + hotline)]
        where = f"，{building.name}" if building else ""
        await self.tickets.push_to_worker(
            uow,
            decision.worker.id,
            Outbound(
                text=t("push.callback", "zh", phone=action.phone, location=where),
                kind="callback_request",
                data={"phone": action.phone},
            ),
            None,
        )
        who = (
            t("human.who.worker", locale, name=decision.worker.name)
            if decision.worker.role != "community_staff"
            else t("human.who.staff", locale)
        )
        return [Outbound(text=t("human.requested", locale, who=who, hotline=hotline))]

    # --- workers -------------------------------------------------------------------------

    async def _worker_turn(
        self, uow: UnitOfWork, worker: GridWorker, msg: Inbound, state: DialogueState
    ) -> tuple[list[Outbound], DialogueState]:
        locale = locale_of(msg.locale)
        text = msg.text.strip()
        photos = await self._fresh_photos(uow, msg)
        # a message written as a reply to a task card (Telegram) is about that card's ticket
        card_number = await self._card_number(uow, msg)
        command: WorkerCommand | None = None
        if msg.button:
            command = parse_button(msg.button)
        elif text or photos:
            note = text or t("worker.photo_note", locale)
            command = parse_command(text) if text else None
            pending = parse_button(state.worker_pending) if state.worker_pending else None
            if command is None and pending is not None and card_number in (None, pending.number):
                command = replace(pending, note=note)
            elif command is None and card_number is not None:
                command = WorkerCommand(Command.PROGRESS, card_number, note)
            elif command is not None and command.number is None and card_number is not None:
                command = replace(command, number=card_number)
        state.worker_pending = None
        if command is None:
            if msg.media:
                return [Outbound(text=t("worker.help", locale))], state
            reply = t("worker.unknown", locale, text=text[:30]) if text else ""
            return [Outbound(text=f"{reply}\n{t('worker.help', locale)}".strip())], state
        if command.command == Command.HELP:
            return [Outbound(text=t("worker.help", locale))], state
        tasks = list(await uow.tickets.for_worker(worker.id or 0))
        if command.command == Command.TASKS:
            return [await self._task_list(uow, worker, tasks, locale)], state
        if command.command == Command.MERGE:
            return [await self._merge_command(uow, worker, command, locale)], state
        ticket: Ticket | None
        if command.number:
            ticket = await uow.tickets.by_number(command.number, for_update=True)
            if ticket is None:
                return [Outbound(text=t("worker.not_found", locale, number=command.number))], state
            if not await self.tickets.may_act(uow, worker, ticket):
                return [Outbound(text=t("worker.not_yours", locale, number=command.number))], state
        else:
            if not tasks:
                return [Outbound(text=t("worker.no_tasks", locale))], state
            if len(tasks) > 1:
                word = ACTION_NAMES.get(command.command, {}).get(locale, command.command.value)
                return [
                    Outbound(
                        text=t(
                            "worker.which",
                            locale,
                            count=len(tasks),
                            command=word,
                            number=tasks[0].number,
                        ),
                        buttons=tuple(
                            Button(f"{word} {tk.number}", f"{command.command.value}:{tk.number}")
                            for tk in tasks[:8]
                        ),
                    )
                ], state
            ticket = await uow.tickets.lock(tasks[0].id or 0)
            if ticket is None:  # pragma: no cover - just listed
                return [Outbound(text=t("worker.no_tasks", locale))], state
        return await self._worker_command(uow, worker, ticket, command, state, locale, photos)

    async def _card_number(self, uow: UnitOfWork, msg: Inbound) -> str | None:
        """The ticket number of the task card this message replies to, if it is one."""
        if not msg.reply_to:
            return None
        card = await uow.cards.for_message(msg.channel, msg.user_id, msg.reply_to)
        if card is None:
            return None
        ticket = await uow.tickets.get(card.ticket_id)
        return ticket.number if ticket else None

    async def _apply_with_photos(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        move: Move,
        actor: Actor,
        note: str,
        photos: tuple[int, ...],
    ) -> None:
        """A worker's move; photos of the work done join the ticket's record and its event."""
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        await self.tickets.apply(
            uow, ticket, move, actor, note=note, data={"photos": list(photos)} if photos else None
        )

    async def _fresh_photos(self, uow: UnitOfWork, msg: Inbound) -> tuple[int, ...]:
        """Photos sent with this message that belong to no ticket yet (never another's)."""
        ids: list[int] = []
        for media in msg.media:
            ref = media.ref.removeprefix("attachment:")
            if media.kind != MediaKind.IMAGE or not media.ref.startswith("attachment:"):
                continue
            if not ref.isdigit():
                continue
            item = await uow.attachments.get(int(ref))
            if item is not None and item.ticket_id is None:
                ids.append(int(ref))
        return tuple(ids)

    async def _task_list(
        self, uow: UnitOfWork, worker: GridWorker, tasks: Sequence[Ticket], locale: str
    ) -> Outbound:
        supervised: list[Ticket] = []
        if worker.role in ("grid_leader", "community_staff"):
            # escalated tickets stay with their assignee; a supervisor sees them here
            escalated = await uow.finder.escalated(worker.community_id, statuses=("escalated",))
            supervised = [
                ticket
                for ticket in await self.tickets.supervised(uow, worker, escalated)
                if ticket.assignee_id != worker.id
            ]
        if not tasks and not supervised:
            return Outbound(text=t("worker.no_tasks", locale))
        lines: list[str] = []
        if tasks:
            lines.append(t("worker.tasks", locale))
            lines += [self._task_line(ticket, locale) for ticket in tasks]
        if supervised:
            lines.append(t("worker.supervised", locale))
            lines += [self._task_line(ticket, locale) for ticket in supervised]
        return Outbound(text="\n".join(lines))

    def _task_line(self, ticket: Ticket, locale: str) -> str:
        return t(
            "worker.task_line",
            locale,
            number=ticket.number,
            category=category_label(ticket.category, locale),
            urgent=t("task.urgent", locale) if ticket.priority == "urgent" else "",
            location=facts_of(ticket).location(locale),
            status=status_text(ticket.status, locale),
        )

    async def _worker_command(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        ticket: Ticket,
        command: WorkerCommand,
        state: DialogueState,
        locale: str,
        photos: tuple[int, ...] = (),
    ) -> tuple[list[Outbound], DialogueState]:
        number = ticket.number
        actor = Actor.worker(worker.id, worker.name)
        action_name = ACTION_NAMES.get(command.command, {}).get(locale, command.command.value)
        if command.command == Command.CONTACT:
            phone = ticket.contact_phone or t("confirm.no_phone", locale)
            return [Outbound(text=t("worker.contact", locale, number=number, phone=phone))], state
        if command.command in NEEDS_NOTE and not command.note:
            if command.command == Command.TRANSFER:
                return [await self._transfer_options(uow, worker, ticket, locale)], state
            if command.command in (Command.HANDOFF, Command.COHANDLE):
                return [await self._department_options(uow, ticket, command.command, locale)], state
            state.worker_pending = f"{command.command.value}:{number}"
            return [
                Outbound(
                    text=t("worker.ask_note", locale, number=number, action=action_name),
                    buttons=(Button(t("button.cancel", locale), "tasks"),),
                )
            ], state
        try:
            if command.command == Command.ACCEPT:
                await self.tickets.accept(uow, ticket, worker, actor)
                phone = ticket.contact_phone or t("confirm.no_phone", locale)
                return [
                    Outbound(
                        text=t("worker.accepted", locale, number=number, phone=phone),
                        buttons=worker_notice(
                            "worker.accepted", number, locale, phone=phone, status=ticket.status
                        ).buttons,
                    )
                ], state
            if command.command == Command.PROGRESS:
                if is_waiting(ticket.status):
                    await self.tickets.accept(uow, ticket, worker, actor)
                await self._apply_with_photos(
                    uow, ticket, Move.PROGRESS, actor, command.note, photos
                )
                await self.tickets.push_resident(
                    uow, ticket, "progress", photos=photos, note=command.note
                )
                return [Outbound(text=t("worker.progress_ok", locale, number=number))], state
            if command.command == Command.RESOLVE:
                if is_waiting(ticket.status):
                    await self.tickets.accept(uow, ticket, worker, actor)
                await self._apply_with_photos(
                    uow, ticket, Move.RESOLVE, actor, command.note, photos
                )
                await self.tickets.push_resident(
                    uow, ticket, "resolved", photos=photos, note=command.note
                )
                return [Outbound(text=t("worker.resolved_ok", locale, number=number))], state
            if command.command == Command.TRANSFER:
                return await self._transfer(uow, worker, ticket, command.note, locale), state
            if command.command in (Command.HANDOFF, Command.COHANDLE):
                return [await self._hand_off(uow, worker, ticket, command, locale)], state
        except InvalidTransition:
            return [
                Outbound(
                    text=t(
                        "worker.bad_state",
                        locale,
                        number=number,
                        status=status_text(ticket.status, locale),
                        action=action_name,
                    )
                )
            ], state
        return [Outbound(text=t("worker.help", locale))], state  # pragma: no cover

    async def _department_options(
        self, uow: UnitOfWork, ticket: Ticket, command: Command, locale: str
    ) -> Outbound:
        rows = await uow.departments.for_community(ticket.community_id)
        if not rows:
            return Outbound(text=t("worker.department_none", locale))
        flow = flow_for_category(ticket.category)
        ordered = suggested(
            [department_ref(d) for d in rows],
            flow.departments if flow else (),
            community_id=ticket.community_id,
        )
        action = ACTION_NAMES[command].get(locale, command.value)
        return Outbound(
            text=t("worker.ask_department", locale, number=ticket.number, action=action),
            buttons=tuple(
                Button(d.name, f"{command.value}:{ticket.number}:{d.name}") for d in ordered[:10]
            ),
        )

    async def _hand_off(
        self,
        uow: UnitOfWork,
        worker: GridWorker,
        ticket: Ticket,
        command: WorkerCommand,
        locale: str,
    ) -> Outbound:
        rows = await uow.departments.for_community(ticket.community_id)
        refs = [department_ref(d) for d in rows]
        target, _, note = command.note.partition(" ")
        ref = resolve_department(target, refs, community_id=ticket.community_id)
        if ref is None:
            ref = resolve_department(command.note, refs, community_id=ticket.community_id)
            note = ""
        if ref is None:
            if not refs:
                return Outbound(text=t("worker.department_none", locale))
            return Outbound(
                text=t(
                    "worker.department_unknown",
                    locale,
                    target=command.note,
                    options="、".join(d.name for d in refs),
                )
            )
        department = next(d for d in rows if d.id == ref.id)
        cohandler = command.command == Command.COHANDLE
        actor = Actor.worker(worker.id, worker.name)
        if is_waiting(ticket.status) and not cohandler:
            # handing it on is working on it: the worker accepts first, like a progress note
            await self.tickets.accept(uow, ticket, worker, actor)
        reached = await self.tickets.involve_department(
            uow, ticket, department, actor, note=note.strip(), cohandler=cohandler
        )
        key = "worker.cohandle_ok" if cohandler else "worker.handoff_ok"
        text = t(key, locale, number=ticket.number, department=department.name)
        if not reached:
            text += t(
                "worker.department_offline",
                locale,
                department=department.name,
                phone=department.phone or "-",
            )
        return Outbound(text=text, buttons=task_buttons(ticket.number, locale, ticket.status))

    async def _merge_command(
        self, uow: UnitOfWork, worker: GridWorker, command: WorkerCommand, locale: str
    ) -> Outbound:
        others = ticket_numbers(command.note)
        if not command.number or not others:
            return Outbound(text=t("worker.merge_usage", locale))
        if worker.role not in ("grid_leader", "community_staff"):
            return Outbound(text=t("worker.not_staff", locale))
        into = others[0]
        if into == command.number:
            return Outbound(text=t("worker.merge_same", locale))
        locked: dict[str, Ticket] = {}
        for number in sorted({command.number, into}):  # fixed lock order
            found = await uow.tickets.by_number(number, for_update=True)
            if found is None:
                return Outbound(text=t("worker.not_found", locale, number=number))
            if not await self.tickets.may_act(uow, worker, found):
                return Outbound(text=t("worker.not_yours", locale, number=number))
            locked[number] = found
        source, target = locked[command.number], locked[into]
        reason = command.note.replace(into, "").strip() or t(
            "worker.merge_ok", "zh", source=source.number, target=target.number
        )
        try:
            await self.tickets.merge_tickets(
                uow, source, target, Actor.worker(worker.id, worker.name), reason
            )
        except InvalidTransition:
            bad = source if not is_open(source.status) else target
            return Outbound(
                text=t(
                    "worker.bad_state",
                    locale,
                    number=bad.number,
                    status=status_text(bad.status, locale),
                    action=ACTION_NAMES[Command.MERGE].get(locale, "merge"),
                )
            )
        return Outbound(
            text=t("worker.merge_ok", locale, source=source.number, target=target.number)
        )

    async def _transfer_options(
        self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket, locale: str
    ) -> Outbound:
        snapshot = await self.tickets.snapshot(uow)
        buttons = [
            Button(g.name, f"transfer:{ticket.number}:{g.name}")
            for g in snapshot.grids.values()
            if g.community_id == ticket.community_id and g.id != ticket.grid_id
        ]
        buttons += [
            Button(w.name, f"transfer:{ticket.number}:{w.name}")
            for w in snapshot.workers
            if w.community_id == ticket.community_id and w.id != worker.id and w.active
        ]
        return Outbound(
            text=t("worker.ask_transfer", locale, number=ticket.number),
            buttons=tuple(buttons[:12]),
        )

    async def _transfer(
        self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket, target: str, locale: str
    ) -> list[Outbound]:
        snapshot = await self.tickets.snapshot(uow)
        grids, workers = snapshot.grids, snapshot.workers
        decision = route_to_target(
            target,
            community_id=ticket.community_id,
            grids=grids,
            workers=workers,
            exclude=frozenset({worker.id or 0}),
        )
        if decision is None:
            options = "、".join(
                [g.name for g in grids.values() if g.community_id == ticket.community_id]
                + [
                    w.name
                    for w in workers
                    if w.community_id == ticket.community_id and w.id != worker.id
                ]
            )
            return [
                Outbound(text=t("worker.transfer_unknown", locale, target=target, options=options))
            ]
        if decision.worker is None:
            return [Outbound(text=t("worker.transfer_none", locale, target=target))]
        next_status(ticket.status, Move.TRANSFER)  # refuse before changing the grid
        if decision.grid_id is not None:
            ticket.grid_id = decision.grid_id
        prefix = t("worker.transferred_in", "zh", number=ticket.number, source=worker.name)
        await self.tickets.assign(
            uow,
            ticket,
            decision.worker,
            decision.reason,
            actor=Actor.worker(worker.id, worker.name),
            move=Move.TRANSFER,
            prefix=prefix,
        )
        target_name = decision.worker.name
        await self.tickets.push_resident(uow, ticket, "transferred", target=f"网格员{target_name}")
        return [
            Outbound(
                text=t("worker.transferred_ok", locale, number=ticket.number, target=target_name)
            )
        ]

    # --- departments ---------------------------------------------------------------------------

    async def _department_turn(
        self,
        uow: UnitOfWork,
        department: Department,
        contact: DepartmentContact,
        msg: Inbound,
        state: DialogueState,
    ) -> tuple[list[Outbound], DialogueState]:
        """A department's contact writes: a reply (or "done") on a ticket handed to them."""
        locale = locale_of(msg.locale)
        text = msg.text.strip()
        name = department.name
        given: DepartmentInput | None = None
        if msg.button:
            given = parse_department_button(msg.button)
        elif text or msg.media:
            given = parse_department_text(text)
            pending = parse_department_button(state.worker_pending or "")
            if pending is not None and given.command == DeptCommand.REPLY and not given.number:
                given = replace(pending, note=text)
        state.worker_pending = None
        if given is None or given.command == DeptCommand.HELP:
            return [Outbound(text=t("dept.help", locale))], state
        tickets = list(
            await uow.departments.active_tickets(
                department.id or 0, statuses=(*OPEN_STATUSES, "resolved")
            )
        )
        if given.command == DeptCommand.TASKS:
            if not tickets:
                return [Outbound(text=t("dept.no_tasks", locale, department=name))], state
            lines = [t("dept.tasks", locale, department=name)]
            lines += [self._task_line(ticket, locale) for ticket in tickets]
            return [Outbound(text="\n".join(lines))], state
        if given.number:
            if given.number not in {tk.number for tk in tickets}:
                return [
                    Outbound(text=t("dept.not_found", locale, number=given.number, department=name))
                ], state
            number = given.number
        elif len(tickets) == 1:
            number = tickets[0].number
        elif not tickets:
            return [Outbound(text=t("dept.no_tasks", locale, department=name))], state
        else:
            return [
                Outbound(
                    text=t(
                        "dept.which",
                        locale,
                        department=name,
                        count=len(tickets),
                        number=tickets[0].number,
                    ),
                    buttons=tuple(
                        Button(f"{tk.number}", f"dept_{given.command.value}:{tk.number}")
                        for tk in tickets[:8]
                    ),
                )
            ], state
        photos = [
            int(m.ref.removeprefix("attachment:"))
            for m in msg.media
            if m.kind == MediaKind.IMAGE and m.ref.removeprefix("attachment:").isdigit()
        ]
        if not given.note and not photos and (msg.button or given.command == DeptCommand.REPLY):
            state.worker_pending = f"dept_{given.command.value}:{number}"
            action = t(f"dept.action.{given.command.value}", locale)
            return [Outbound(text=t("dept.ask_note", locale, number=number, action=action))], state
        ticket = await uow.tickets.by_number(number, for_update=True)
        if ticket is None:  # pragma: no cover - just listed
            return [
                Outbound(text=t("dept.not_found", locale, number=number, department=name))
            ], state
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        note = given.note
        if photos:
            note = f"{note}{t('worker.supplement.photos', 'zh', count=len(photos))}".strip()
        done = given.command == DeptCommand.DONE
        actor = Actor.department(department.id, f"{name}{contact.name}" if contact.name else name)
        try:
            await self.tickets.record_department_reply(
                uow, ticket, department, note, actor, done=done
            )
        except InvalidTransition:
            status = status_text(ticket.status, locale)
            return [Outbound(text=t("dept.ended", locale, number=number, status=status))], state
        key = "dept.done_ok" if done else "dept.reply_ok"
        return [Outbound(text=t(key, locale, number=number))], state

    # --- the staff API (for the admin console; one transaction each) --------------------

    async def merge(self, number: str, into: str, *, actor: Actor, reason: str = "") -> Ticket:
        """Merge ticket ``number`` into ``into``: its reporter and followers follow ``into``.

        Raises:
            TicketNotFound, PermissionDenied, InvalidTransition.
        """
        return await self.tickets.merge(number, into, actor=actor, reason=reason)

    async def hand_to_department(
        self,
        number: str,
        department: str | int,
        *,
        actor: Actor,
        note: str = "",
        cohandler: bool = False,
    ) -> Ticket:
        """Hand a ticket to a department (by name or id), or add it as co-handler.

        Raises:
            TicketNotFound, UnknownDepartment, PermissionDenied, InvalidTransition.
        """
        return await self.tickets.hand_to_department(
            number, department, actor=actor, note=note, cohandler=cohandler
        )

    async def department_reply(
        self, number: str, department: str | int, text: str, *, actor: Actor, done: bool = False
    ) -> Ticket:
        """Record a department's reply; it reaches the timeline, the worker and the resident."""
        return await self.tickets.department_reply(number, department, text, actor=actor, done=done)

    async def add_note(
        self, number: str, text: str, *, actor: Actor, tell_resident: bool = False
    ) -> Ticket:
        """A staff note on the timeline (to the resident too when ``tell_resident``)."""
        return await self.tickets.add_note(number, text, actor=actor, tell_resident=tell_resident)

    async def close(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Close a resolved ticket without waiting for the resident's rating."""
        return await self.tickets.close(number, actor=actor, reason=reason)

    async def cancel(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Withdraw a ticket nobody has accepted yet."""
        return await self.tickets.cancel(number, actor=actor, reason=reason)

    async def escalate(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Escalate a waiting ticket one level above its handler."""
        return await self.tickets.escalate_now(number, actor=actor, reason=reason)

    async def timeline(self, number: str) -> list[TicketEvent]:
        """Every event of a ticket (who, when, what, from/to status), oldest first."""
        return await self.tickets.timeline(number)

    async def followers(self, number: str) -> list[TicketFollower]:
        return await self.tickets.followers(number)

    async def clocks(self, number: str) -> list[TicketClock]:
        """A ticket's SLA clocks (pending, fired, cancelled), for the console's view."""
        return await self.tickets.clocks(number)

    async def departments(self, community_id: int | None = None) -> list[Department]:
        return await self.tickets.departments(community_id)

    async def register_department(
        self,
        name: str,
        *,
        kind: str = "other",
        community_id: int | None = None,
        aliases: Sequence[str] = (),
        phone: str = "",
        contacts: Sequence[tuple[str, str, str]] = (),
    ) -> Department:
        """Add a department and its contacts ((channel, user id, name) each)."""
        return await self.tickets.register_department(
            name,
            kind=kind,
            community_id=community_id,
            aliases=aliases,
            phone=phone,
            contacts=contacts,
        )


def resident_location(ticket: Ticket, locale: str = "zh") -> str:
    return location_text(
        ticket.building_name, ticket.unit, ticket.room, ticket.location_note, locale
    )
