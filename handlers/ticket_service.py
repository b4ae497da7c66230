"""Ticket operations (I/O): every move through the state machine, with its event, its SLA
clocks and its notifications, written in the caller's transaction.

The conversation service (``service.py``), the SLA sweeper (``sla_service.py``) and the admin
console all change tickets through this class, so a move is validated by
``handlers.lifecycle.next_status`` before anything is touched, recorded as a ``TicketEvent``
with its actor and reason, starts and stops its clocks (``handlers.sla.plan``) and queues
its notifications in the outbox — all in one transaction.

Public methods taking a ticket number (``merge``, ``hand_to_department``, ``department_reply``,
``add_note``, ``close``, ``cancel``, ``escalate``, ``timeline`` …) open their own transaction:
they are the staff API the admin console calls. Methods taking a ``uow`` join the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from handlers.codec import outbound_to_dict
from handlers.departments import (
    DepartmentKind,
    DepartmentRef,
    resolve_department,
)
from handlers.duplicates import DuplicatePolicy, OpenTicket, Place, find_duplicate
from handlers.errors import DialogueError, InvalidTransition, PermissionDenied, TicketNotFound
from handlers.flows import category_label
from handlers.i18n import t
from handlers.lifecycle import (
    OPEN,
    TOP_LEVEL,
    Actor,
    Move,
    next_status,
    role_level,
)
from handlers.messages import Button, Outbound
from handlers.notices import (
    TicketFacts,
    follower_update,
    resident_update,
    task_card,
    ticket_facts,
    worker_notice,
)
from handlers.open311 import (
    Open311Error,
    Open311Policy,
    PublicTicket,
    RequestQuery,
    check_jurisdiction,
    parse_query,
    records,
    service_codes,
    service_list,
)
from handlers.ports import Clock
from handlers.routing import GridRef, RouteDecision, WorkerRef, route
from handlers.sla import (
    ClockKind,
    ClockPlan,
    CloseUnrated,
    Decision,
    Escalate,
    Overdue,
    Remind,
    SlaPolicy,
    SlaTicket,
    WorkingHours,
    duration_text,
    escalation_targets,
    plan,
    plan_new,
)
from storage.interfaces import Store, UnitOfWork
from storage.models import (
    Department,
    DepartmentContact,
    GridWorker,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketFollower,
)

log = logging.getLogger("minhu.tickets")

OPEN_STATUSES = tuple(s.value for s in OPEN)
# events whose note the resident (and Open311) may read as "what is happening"
PUBLIC_NOTE_KINDS = ("progress", "resolve", "department_reply")


class UnknownDepartment(DialogueError):  # noqa: N818 -- reads as a domain fact
    """No department by that name or id serves the ticket's community."""


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """The lifecycle policies, built from settings in bot/ (defaults: the street office's)."""

    sla: SlaPolicy = field(default_factory=SlaPolicy)
    duplicates: DuplicatePolicy = field(default_factory=DuplicatePolicy)
    open311: Open311Policy = field(default_factory=Open311Policy)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The grids and workers routing and escalation choose from (with open-ticket loads)."""

    grids: dict[int, GridRef]
    workers: list[WorkerRef]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An open ticket a new report repeats."""

    ticket: Ticket
    own: bool  # the resident reported it themselves


def facts_of(ticket: Ticket, photos: int = 0) -> TicketFacts:
    return ticket_facts(ticket, photos=photos)


async def with_accept_deadline(uow: UnitOfWork, facts: TicketFacts, ticket: Ticket) -> TicketFacts:
    """The facts with the deadline of the ticket's running accept clock (for task cards)."""
    clocks = await uow.clocks.for_ticket(ticket.id or 0, status="pending")
    accept = [c for c in clocks if c.kind == ClockKind.ACCEPT.value]
    if not accept:
        return facts
    clock = min(accept, key=lambda c: c.due_at)
    return replace(
        facts, respond_by=clock.due_at, respond_within=timedelta(seconds=clock.target_seconds)
    )


def department_ref(department: Department) -> DepartmentRef:
    return DepartmentRef(
        id=department.id or 0,
        name=department.name,
        kind=department.kind,
        aliases=tuple(department.aliases or ()),
        community_id=department.community_id,
    )


class TicketService:
    """Moves tickets, keeps their clocks and tells everyone concerned.

    Args:
        store: units of work over the database.
        clock: the time source (tests inject a fake one).
        config: SLA, duplicate and Open311 policies.
        on_outbox: called after a commit that queued pushed messages (wakes the dispatcher).
    """

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        config: LifecycleConfig | None = None,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config or LifecycleConfig()
        self._on_outbox = on_outbox or (lambda: None)

    def kick(self) -> None:
        """Wake the outbox dispatcher (after a commit that queued messages)."""
        self._on_outbox()

    # --- registry --------------------------------------------------------------------------

    async def snapshot(self, uow: UnitOfWork) -> Snapshot:
        grids = {
            g.id: GridRef(g.id, g.name, g.community_id, g.parent_id, g.level)
            for g in await uow.registry.grids()
            if g.id is not None
        }
        counts = await uow.tickets.open_counts_by_worker()
        workers = [
            WorkerRef(
                id=w.id,
                name=w.name,
                role=w.role,
                community_id=w.community_id,
                grid_id=w.grid_id,
                on_duty=w.on_duty,
                active=w.active,
                open_tickets=counts.get(w.id, 0),
            )
            for w in await uow.registry.workers()
            if w.id is not None
        ]
        return Snapshot(grids, workers)

    async def working_hours(self, uow: UnitOfWork, community_id: int | None) -> WorkingHours | None:
        """The community's office hours; a broken configuration is logged and ignored (24/7)
        rather than stopping every clock of the community."""
        if community_id is None:
            return None
        community = await uow.registry.community(community_id)
        if community is None:
            return None
        try:
            return WorkingHours.from_settings(community.settings)
        except ValueError as e:
            log.warning("community %s: invalid working_hours, clocks run 24/7: %s", community_id, e)
            return None

    async def route(
        self, uow: UnitOfWork, ticket: Ticket, exclude: frozenset[int] = frozenset()
    ) -> RouteDecision:
        snapshot = await self.snapshot(uow)
        return route(
            grid_id=ticket.grid_id,
            community_id=ticket.community_id,
            grids=snapshot.grids,
            workers=snapshot.workers,
            exclude=exclude,
        )

    async def may_act(self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket) -> bool:
        """The assignee; community staff of its community; a grid leader above its grid (a
        community-wide leader for the whole community)."""
        if ticket.assignee_id == worker.id:
            return True
        if worker.role == "community_staff":
            return ticket.community_id == worker.community_id
        if worker.role == "grid_leader":
            if worker.grid_id is None:
                return ticket.community_id == worker.community_id
            if ticket.grid_id is None:
                return False
            snapshot = await self.snapshot(uow)
            current = snapshot.grids.get(ticket.grid_id)
            while current is not None:
                if current.id == worker.grid_id:
                    return True
                current = snapshot.grids.get(current.parent_id) if current.parent_id else None
        return False

    async def supervised(
        self, uow: UnitOfWork, supervisor: GridWorker, tickets: Sequence[Ticket]
    ) -> list[Ticket]:
        """The tickets a grid leader or staff member may act on (one registry look)."""
        if supervisor.role == "community_staff" or (
            supervisor.role == "grid_leader" and supervisor.grid_id is None
        ):
            return [t for t in tickets if t.community_id == supervisor.community_id]
        if supervisor.role != "grid_leader":
            return []
        snapshot = await self.snapshot(uow)
        below: set[int] = set()
        for grid in snapshot.grids.values():
            current: GridRef | None = grid
            while current is not None:
                if current.id == supervisor.grid_id:
                    below.add(grid.id)
                    break
                current = snapshot.grids.get(current.parent_id) if current.parent_id else None
        return [t for t in tickets if t.grid_id in below]

    async def handler_level(self, uow: UnitOfWork, ticket: Ticket) -> int:
        if ticket.assignee_id is None:
            return 0
        worker = await uow.registry.worker(ticket.assignee_id)
        return role_level(worker.role if worker else None)

    # --- the one way a ticket moves --------------------------------------------------------

    async def apply(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        move: Move,
        actor: Actor,
        *,
        note: str = "",
        data: dict[str, Any] | None = None,
        level: int | None = None,
    ) -> str:
        """Make a move: check it, change the status, record the event, start/stop clocks.

        Returns the status before the move.

        Raises:
            InvalidTransition: the move is not allowed now; nothing was changed.
        """
        after = next_status(ticket.status, move)  # before touching anything
        now = self.clock.now()
        before = ticket.status
        ticket.status = after.value
        ticket.updated_at = now
        if move == Move.ACCEPT:
            ticket.accepted_at = ticket.accepted_at or now
        elif move == Move.RESOLVE:
            ticket.resolved_at = now
        elif move in (Move.RATE, Move.CLOSE, Move.CANCEL, Move.MERGE):
            ticket.closed_at = now
        elif move == Move.REOPEN:
            ticket.reopen_count += 1
            ticket.resolved_at = None
        await uow.tickets.save(ticket)
        await self.event(uow, ticket, move.value, actor, note=note, before=before, data=data)
        sla_ticket = SlaTicket(
            ticket.category,
            ticket.priority,
            ticket.status,
            await self.handler_level(uow, ticket),
        )
        hours = await self.working_hours(uow, ticket.community_id)
        await self.run_plan(
            uow, ticket, plan(move, sla_ticket, now, self.config.sla, hours, level=level)
        )
        return before

    async def run_plan(self, uow: UnitOfWork, ticket: Ticket, clocks: ClockPlan) -> None:
        now = self.clock.now()
        if clocks.cancel:
            await uow.clocks.cancel(ticket.id or 0, [k.value for k in clocks.cancel], now=now)
        for spec in clocks.start:
            await uow.clocks.add(
                TicketClock(
                    ticket_id=ticket.id or 0,
                    kind=spec.kind.value,
                    level=spec.level,
                    due_at=spec.due_at,
                    deadline_at=spec.deadline_at,
                    target_seconds=spec.target_seconds,
                    started_at=now,
                )
            )

    async def event(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        kind: str,
        actor: Actor,
        *,
        note: str = "",
        before: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        await uow.tickets.add_event(
            TicketEvent(
                ticket_id=ticket.id or 0,
                at=self.clock.now(),
                kind=kind,
                actor_type=actor.kind,
                actor_id=actor.id,
                actor_name=actor.name,
                from_status=before,
                to_status=ticket.status,
                note=note,
                data=data or {},
            )
        )

    # --- filing, assigning, accepting --------------------------------------------------------

    async def file(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        *,
        actor: Actor,
        photos: Sequence[int] = (),
        card_prefix: str = "",
    ) -> WorkerRef | None:
        """Store a new ticket, start its clocks, route and assign it; returns the assignee."""
        await uow.tickets.add(ticket)
        await self.event(uow, ticket, "created", actor, note=ticket.description)
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        decision = await self.route(uow, ticket)
        if decision.worker is not None:
            await self.assign(
                uow,
                ticket,
                decision.worker,
                decision.reason,
                actor=Actor.system(),
                prefix=card_prefix,
            )
        else:
            log.warning("ticket %s: nobody to assign it to", ticket.number)
        hours = await self.working_hours(uow, ticket.community_id)
        sla_ticket = SlaTicket(ticket.category, ticket.priority, ticket.status)
        await self.run_plan(
            uow, ticket, plan_new(sla_ticket, self.clock.now(), self.config.sla, hours)
        )
        return decision.worker

    async def assign(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        worker: WorkerRef | GridWorker,
        reason: str,
        *,
        actor: Actor,
        move: Move = Move.ASSIGN,
        prefix: str = "",
    ) -> None:
        next_status(ticket.status, move)  # refuse before changing the assignee
        now = self.clock.now()
        ticket.assignee_id = worker.id
        ticket.assigned_at = now
        if worker.grid_id is not None:
            ticket.grid_id = (
                ticket.grid_id if move == Move.ASSIGN and ticket.grid_id else worker.grid_id
            )
        await self.apply(
            uow,
            ticket,
            move,
            actor,
            note=reason,
            data={"assignee_id": worker.id, "assignee": worker.name},
        )
        await self.push_task(uow, worker.id or 0, ticket, prefix=prefix)

    async def accept(
        self, uow: UnitOfWork, ticket: Ticket, worker: GridWorker, actor: Actor
    ) -> None:
        next_status(ticket.status, Move.ACCEPT)
        ticket.assignee_id = worker.id
        await self.apply(uow, ticket, Move.ACCEPT, actor)
        await self.push_resident(uow, ticket, "accepted", worker=worker.name)

    # --- escalation, reminders, overdue, unrated ----------------------------------------------

    def _who(self, level: int, targets: Sequence[WorkerRef], locale: str = "zh") -> str:
        if level >= TOP_LEVEL or not targets:
            return t("who.community_staff", locale)
        return t("who.grid_leader", locale, name="、".join(w.name for w in targets[:3]))

    async def escalate(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        level: int,
        actor: Actor,
        *,
        reason: str,
        why: str = "timeout",
        target_seconds: int = 0,
        score: int | None = None,
        snapshot: Snapshot | None = None,
    ) -> tuple[int, list[WorkerRef]]:
        """Escalate to a level (1 grid leader, 2 community staff; up when nobody is there).

        ``why``: ``timeout`` (a missed accept deadline), ``reopened`` (unsatisfied resident) or
        ``manual``. Returns the level reached and who was told (empty: nobody to tell; the
        ticket keeps its status and the failure is on its timeline).
        """
        next_status(ticket.status, Move.ESCALATE)
        snap = snapshot or await self.snapshot(uow)
        exclude = frozenset({ticket.assignee_id}) if ticket.assignee_id else frozenset()
        reached, targets = escalation_targets(
            level,
            grid_id=ticket.grid_id,
            community_id=ticket.community_id,
            grids=snap.grids,
            workers=snap.workers,
            exclude=exclude,
        )
        if not targets:
            await self.event(
                uow, ticket, "escalation_failed", actor, note=reason, data={"level": level}
            )
            log.warning("ticket %s: nobody to escalate to (level %s)", ticket.number, level)
            return reached, []
        await self.apply(
            uow,
            ticket,
            Move.ESCALATE,
            actor,
            note=reason,
            data={
                "level": reached,
                "to": [w.id for w in targets],
                "names": [w.name for w in targets],
            },
            level=reached,
        )
        assignee = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        assignee_name = assignee.name if assignee else "-"
        target_text = duration_text(target_seconds) if target_seconds else ""
        if why == "reopened":
            prefix = t(
                "supervisor.reopened", number=ticket.number, score=score or "", worker=assignee_name
            )
        elif why == "manual":
            prefix = t("supervisor.manual", number=ticket.number, actor=actor.name, note=reason)
        else:
            prefix = t(
                "supervisor.escalated",
                number=ticket.number,
                target=target_text,
                worker=assignee_name,
            )
        for target in targets:
            await self.push_task(uow, target.id, ticket, prefix=prefix)
        who = self._who(reached, targets)
        if assignee is not None and assignee.id not in {w.id for w in targets}:
            key = "worker.escalated.reopened" if why == "reopened" else "worker.escalated"
            await self.push_to_worker(
                uow,
                assignee.id or 0,
                worker_notice(
                    key,
                    ticket.number,
                    target=target_text or reason,
                    who=who,
                    score=score or "",
                    status=ticket.status,
                ),
                ticket,
            )
        if why != "reopened":  # the unsatisfied resident hears it in the reply to the rating
            await self.push_resident(uow, ticket, "escalated", who=who)
        return reached, targets

    async def overdue(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        level: int,
        *,
        target_seconds: int,
        snapshot: Snapshot | None = None,
    ) -> tuple[int, list[WorkerRef]]:
        """The resolution deadline passed: supervisors and the worker are told (same status)."""
        next_status(ticket.status, Move.OVERDUE)
        snap = snapshot or await self.snapshot(uow)
        exclude = frozenset({ticket.assignee_id}) if ticket.assignee_id else frozenset()
        reached, targets = escalation_targets(
            level,
            grid_id=ticket.grid_id,
            community_id=ticket.community_id,
            grids=snap.grids,
            workers=snap.workers,
            exclude=exclude,
        )
        target_text = duration_text(target_seconds)
        await self.apply(
            uow,
            ticket,
            Move.OVERDUE,
            Actor.system("SLA"),
            note=f"超过办结时限{target_text}",
            data={"level": reached, "to": [w.id for w in targets]},
            level=reached,
        )
        assignee = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        for target in targets:
            await self.push_to_worker(
                uow,
                target.id,
                worker_notice(
                    "supervisor.overdue",
                    ticket.number,
                    target=target_text,
                    status=ticket.status,
                    worker=assignee.name if assignee else "-",
                ),
                ticket,
            )
        if assignee is not None and assignee.id not in {w.id for w in targets}:
            await self.push_to_worker(
                uow,
                assignee.id or 0,
                worker_notice(
                    "worker.overdue",
                    ticket.number,
                    target=target_text,
                    who=self._who(reached, targets),
                    status=ticket.status,
                ),
                ticket,
            )
        return reached, targets

    async def remind(self, uow: UnitOfWork, ticket: Ticket, clock: TicketClock, what: str) -> str:
        next_status(ticket.status, Move.REMIND)
        left = (clock.deadline_at - self.clock.now()).total_seconds() if clock.deadline_at else 0
        left_text = duration_text(max(60.0, left))
        await self.apply(
            uow,
            ticket,
            Move.REMIND,
            Actor.system("SLA"),
            note=f"{what}: {left_text}",
            data={
                "what": what,
                "deadline": clock.deadline_at.isoformat() if clock.deadline_at else "",
            },
        )
        if ticket.assignee_id is None:
            return "no assignee to remind"
        await self.push_to_worker(
            uow,
            ticket.assignee_id,
            worker_notice(
                f"worker.remind.{what}",
                ticket.number,
                category=category_label(ticket.category),
                urgent=t("task.urgent") if ticket.priority == "urgent" else "",
                left=left_text,
                status=ticket.status,
            ),
            ticket,
        )
        return f"reminded worker {ticket.assignee_id}"

    async def close_unrated(self, uow: UnitOfWork, ticket: Ticket) -> None:
        days = duration_text(self.config.sla.rating_timeout.total_seconds())
        await self.apply(
            uow, ticket, Move.CLOSE, Actor.system("SLA"), note=f"居民{days}未评价，自动关闭"
        )
        await self.push_resident(uow, ticket, "closed_unrated", days=days)
        if ticket.assignee_id:
            await self.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "worker.closed_unrated", ticket.number, days=days, status=ticket.status
                ),
                ticket,
            )

    async def on_clock(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        clock: TicketClock,
        decision: Decision,
        snapshot: Snapshot | None = None,
    ) -> str:
        """Carry out what a due clock decided (the sweeper holds the ticket's lock)."""
        if isinstance(decision, Escalate):
            reached, targets = await self.escalate(
                uow,
                ticket,
                decision.level,
                Actor.system("SLA"),
                reason=f"超过{duration_text(clock.target_seconds)}未接单",
                target_seconds=clock.target_seconds,
                snapshot=snapshot,
            )
            if not targets:
                return f"nobody to escalate to at level {reached}"
            return f"escalated to level {reached}: " + ",".join(w.name for w in targets)
        if isinstance(decision, Remind):
            return await self.remind(uow, ticket, clock, decision.what)
        if isinstance(decision, Overdue):
            reached, targets = await self.overdue(
                uow, ticket, decision.level, target_seconds=clock.target_seconds, snapshot=snapshot
            )
            return f"overdue, level {reached}: " + ",".join(w.name for w in targets)
        if isinstance(decision, CloseUnrated):
            await self.close_unrated(uow, ticket)
            return "closed unrated"
        return f"skipped: {decision.reason}"

    # --- the resident's side ------------------------------------------------------------------

    async def rate(
        self, uow: UnitOfWork, ticket: Ticket, score: int, comment: str, actor: Actor
    ) -> Outbound:
        """A rating: 3+ closes; 1–2 reopens and escalates one level above the handler."""
        next_status(ticket.status, Move.RATE if score >= 3 else Move.REOPEN)  # before changes
        locale = await self.reporter_locale(uow, ticket)
        ticket.rating = score
        ticket.rating_comment = comment
        if score >= 3:
            await self.apply(uow, ticket, Move.RATE, actor, note=comment, data={"score": score})
            if ticket.assignee_id:
                await self.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    worker_notice(
                        "push.rated_worker", ticket.number, score=score, status=ticket.status
                    ),
                    ticket,
                )
            return Outbound(text=t("rate.thanks", locale, score=score, number=ticket.number))
        level = min(TOP_LEVEL, await self.handler_level(uow, ticket) + 1)
        await self.apply(uow, ticket, Move.REOPEN, actor, note=comment, data={"score": score})
        await self.push_resident(uow, ticket, "reopened", reporter=False)
        reached, targets = await self.escalate(
            uow,
            ticket,
            level,
            actor,
            reason=f"居民不满意（{score}星）" + (f"：{comment}" if comment else ""),
            why="reopened",
            score=score,
        )
        more = (Button(t("supplement.button.more", locale), f"supplement:{ticket.number}"),)
        if not targets:
            if ticket.assignee_id:
                await self.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    worker_notice(
                        "push.reopened_worker", ticket.number, score=score, status=ticket.status
                    ),
                    ticket,
                )
            return Outbound(text=t("rate.reopened", locale, number=ticket.number), buttons=more)
        return Outbound(
            text=t(
                "rate.reopened_escalated",
                locale,
                number=ticket.number,
                who=self._who(reached, targets, locale),
            ),
            buttons=more,
        )

    async def find_duplicate(
        self,
        uow: UnitOfWork,
        *,
        category: str,
        community_id: int | None,
        building_id: int | None,
        latitude: float | None,
        longitude: float | None,
        channel: str,
        user_id: str,
    ) -> Duplicate | None:
        """An open ticket about the same problem (see handlers.duplicates)."""
        policy = self.config.duplicates
        if not policy.enabled or category in policy.exclude:
            return None
        rows = await uow.finder.open_similar(
            community_id=community_id,
            category=category,
            building_id=building_id,
            statuses=OPEN_STATUSES,
        )
        if not rows:
            return None
        buildings = {b.id: b for b in await uow.registry.buildings(community_id)}

        def place(
            b_id: int | None, lat: float | None, lon: float | None, c_id: int | None
        ) -> Place:
            building = buildings.get(b_id) if b_id is not None else None
            if (lat is None or lon is None) and building is not None:
                lat, lon = building.latitude, building.longitude
            return Place(c_id, b_id, lat, lon)

        candidates = sorted(
            (
                OpenTicket(
                    r.number,
                    r.category,
                    place(r.building_id, r.latitude, r.longitude, r.community_id),
                    (r.channel, r.channel_user_id),
                )
                for r in rows
            ),
            key=lambda c: c.number,
        )
        found = find_duplicate(
            category, place(building_id, latitude, longitude, community_id), candidates, policy
        )
        if found is None:
            return None
        ticket = next(r for r in rows if r.number == found.number)
        return Duplicate(ticket, found.reporter == (channel, user_id))

    async def follow(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        *,
        channel: str,
        user_id: str,
        resident_id: int | None,
    ) -> bool:
        """Subscribe a resident to a ticket's updates; False when they already get them."""
        next_status(ticket.status, Move.FOLLOW)
        if (ticket.channel, ticket.channel_user_id) == (channel, user_id):
            return False
        added = await uow.followers.add(
            ticket.id or 0,
            channel,
            user_id,
            resident_id=resident_id,
            via="duplicate",
            now=self.clock.now(),
        )
        if not added:
            return False
        count = len(await uow.followers.for_ticket(ticket.id or 0)) + 1
        await self.apply(
            uow,
            ticket,
            Move.FOLLOW,
            Actor.resident(resident_id),
            data={"residents": count},
        )
        if ticket.assignee_id:
            await self.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice("worker.follow", ticket.number, count=count, status=ticket.status),
                ticket,
            )
        return True

    async def supplement(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        *,
        text: str,
        photos: Sequence[int] = (),
    ) -> str:
        """The resident adds information or photos; the assignee (and departments) are told.

        Returns who was told, in words for the resident.
        """
        next_status(ticket.status, Move.SUPPLEMENT)
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        await self.apply(
            uow, ticket, Move.SUPPLEMENT, actor, note=text, data={"photos": list(photos)}
        )
        extra = t("worker.supplement.photos", count=len(photos)) if photos else ""
        message = worker_notice(
            "worker.supplement", ticket.number, note=text or "-", photos=extra, status=ticket.status
        )
        if photos:
            message = replace(message, image=f"attachment:{photos[0]}")
        for party in await uow.departments.parties(ticket.id or 0):
            if party.status == "active":
                await self.push_department(
                    uow, party.department_id, replace(message, buttons=()), ticket
                )
        if ticket.assignee_id is None:
            return t("supplement.who.community")
        await self.push_to_worker(uow, ticket.assignee_id, message, ticket)
        worker = await uow.registry.worker(ticket.assignee_id)
        return t("supplement.who.worker", name=worker.name if worker else "")

    # --- staff operations (uow level) ----------------------------------------------------

    async def merge_tickets(
        self, uow: UnitOfWork, source: Ticket, target: Ticket, actor: Actor, reason: str
    ) -> int:
        """Merge ``source`` into ``target``: its reporter and followers follow ``target``.

        Returns how many residents follow ``target`` afterwards (its reporter included).
        """
        if source.id == target.id:
            raise InvalidTransition(t("worker.merge_same"))
        next_status(source.status, Move.MERGE)
        next_status(target.status, Move.ABSORB)
        now = self.clock.now()
        await self.apply(uow, source, Move.MERGE, actor, note=reason, data={"into": target.number})
        if source.channel and source.channel_user_id:
            await uow.followers.add(
                target.id or 0,
                source.channel,
                source.channel_user_id,
                resident_id=source.resident_id,
                via="merge",
                now=now,
            )
        await uow.followers.copy(source.id or 0, target.id or 0, via="merge", now=now)
        followers = [
            f
            for f in await uow.followers.for_ticket(target.id or 0)
            if (f.channel, f.user_id) != (target.channel, target.channel_user_id)
        ]
        count = len(followers) + 1
        await self.apply(
            uow,
            target,
            Move.ABSORB,
            actor,
            note=reason,
            data={"from": source.number, "residents": count},
        )
        await self.push_resident(uow, source, "merged", target=target.number)
        if source.assignee_id and source.assignee_id != target.assignee_id:
            await self.push_to_worker(
                uow,
                source.assignee_id,
                Outbound(text=t("worker.merged_away", source=source.number, target=target.number)),
                source,
            )
        if target.assignee_id:
            await self.push_to_worker(
                uow,
                target.assignee_id,
                worker_notice(
                    "worker.merged_in",
                    target.number,
                    source=source.number,
                    target=target.number,
                    count=count,
                    status=target.status,
                ),
                target,
            )
        return count

    async def involve_department(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        department: Department,
        actor: Actor,
        *,
        note: str = "",
        cohandler: bool = False,
    ) -> bool:
        """Hand a ticket to a department (or add it as co-handler) and send it the case.

        The assignee stays accountable; returns False when the department has no reachable
        contact (the worker is told to phone them).
        """
        move = Move.COHANDLE if cohandler else Move.HANDOFF
        next_status(ticket.status, move)
        await uow.departments.add_party(
            ticket.id or 0,
            department.id or 0,
            role="cohandler" if cohandler else "lead",
            added_by=actor.name,
            now=self.clock.now(),
        )
        await self.apply(
            uow,
            ticket,
            move,
            actor,
            note=note,
            data={
                "department_id": department.id,
                "department": department.name,
                "role": "cohandler" if cohandler else "lead",
            },
        )
        assignee = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        grid = await uow.registry.grid(ticket.grid_id) if ticket.grid_id else None
        photos = await uow.attachments.for_ticket(ticket.id or 0)
        card = Outbound(
            text=t(
                "dept.card.cohandle" if cohandler else "dept.card",
                number=ticket.number,
                category=category_label(ticket.category),
                urgent=t("task.urgent") if ticket.priority == "urgent" else "",
                # building level only: a department gets no phone, unit or room of the resident
                location=ticket.building_name or ticket.location_note or "-",
                description=ticket.description,
                photos=t("dept.card.photos", count=len(photos)) if photos else "",
                worker=actor.name if assignee is None else assignee.name,
                grid=grid.name if grid else "-",
                note=t("dept.card.note", note=note) if note else "",
            ),
            buttons=(
                Button(t("dept.button.reply"), f"dept_reply:{ticket.number}"),
                Button(t("dept.button.done"), f"dept_done:{ticket.number}"),
            ),
            image=f"attachment:{photos[0].id}" if photos else None,
            kind="department_card",
            data={"number": ticket.number, "department": department.name},
        )
        reached = await self.push_department(uow, department.id or 0, card, ticket)
        await self.push_resident(
            uow,
            ticket,
            "cohandle" if cohandler else "handoff",
            department=department.name,
            worker=assignee.name if assignee else actor.name,
        )
        return reached

    async def record_department_reply(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        department: Department,
        text: str,
        actor: Actor,
        *,
        done: bool = False,
    ) -> None:
        """A department's answer: on the timeline, to the accountable worker, to the resident."""
        next_status(ticket.status, Move.DEPARTMENT_REPLY)
        await self.apply(
            uow,
            ticket,
            Move.DEPARTMENT_REPLY,
            actor,
            note=text,
            data={"department_id": department.id, "department": department.name, "done": done},
        )
        if done:
            for party in await uow.departments.parties(ticket.id or 0):
                if party.department_id == department.id:
                    party.status = "done"
                    party.done_at = self.clock.now()
                    await uow.departments.save_party(party)
        note = text or ("已处理完毕" if done else "-")
        if ticket.assignee_id:
            await self.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "worker.department_done" if done else "worker.department_reply",
                    ticket.number,
                    department=department.name,
                    note=note,
                    status=ticket.status,
                ),
                ticket,
            )
        await self.push_resident(
            uow,
            ticket,
            "department_done" if done else "department_reply",
            department=department.name,
            note=note,
        )

    # --- pushing messages ---------------------------------------------------------------------

    async def reporter_locale(self, uow: UnitOfWork, ticket: Ticket) -> str:
        if ticket.resident_id is None:
            return "zh"
        resident = await uow.registry.resident(ticket.resident_id)
        return resident.locale if resident else "zh"

    async def push_resident(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        kind: str,
        *,
        reporter: bool = True,
        followers: bool = True,
        photos: tuple[int, ...] = (),
        **values: str,
    ) -> int:
        """Tell the reporter (in the chat where they reported) and every follower.

        ``photos``: attachments the worker sent with the update; the first goes along.
        """
        facts = facts_of(ticket)
        image = f"attachment:{photos[0]}" if photos else None
        sent = 0
        if reporter and ticket.channel and ticket.channel_user_id:
            locale = await self.reporter_locale(uow, ticket)
            await self._enqueue(
                uow,
                ticket.channel,
                ticket.channel_user_id,
                replace(resident_update(kind, facts, locale, **values), image=image),
                ticket,
            )
            sent += 1
        if followers:
            for follower in await uow.followers.for_ticket(ticket.id or 0):
                if (follower.channel, follower.user_id) == (ticket.channel, ticket.channel_user_id):
                    continue
                locale = "zh"
                if follower.resident_id is not None:
                    resident = await uow.registry.resident(follower.resident_id)
                    locale = resident.locale if resident else "zh"
                message = replace(follower_update(kind, facts, locale, **values), image=image)
                await self._enqueue(uow, follower.channel, follower.user_id, message, ticket)
                sent += 1
        return sent

    async def _enqueue(
        self, uow: UnitOfWork, channel: str, user_id: str, message: Outbound, ticket: Ticket
    ) -> None:
        await uow.outbox.enqueue(
            channel, user_id, outbound_to_dict(message), now=self.clock.now(), ticket_id=ticket.id
        )
        uow.queued += 1

    async def push_task(
        self, uow: UnitOfWork, worker_id: int, ticket: Ticket, *, prefix: str = ""
    ) -> None:
        """A task card (with the first photo) to a worker."""
        attachments = await uow.attachments.for_ticket(ticket.id or 0)
        facts = await with_accept_deadline(uow, facts_of(ticket, photos=len(attachments)), ticket)
        card = task_card(facts, "zh", prefix=prefix)
        if attachments:
            card = replace(card, image=f"attachment:{attachments[0].id}")
        await self.push_to_worker(uow, worker_id, card, ticket)

    async def push_to_worker(
        self, uow: UnitOfWork, worker_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        """Queue a message to a worker's preferred reachable channel."""
        identities = [i for i in await uow.registry.worker_identities(worker_id) if i.reachable]
        if not identities:
            log.warning("worker %s has no reachable channel; message not queued", worker_id)
            return False
        target = identities[0]
        await uow.outbox.enqueue(
            target.channel,
            target.user_id,
            outbound_to_dict(message),
            now=self.clock.now(),
            ticket_id=ticket.id if ticket else None,
            worker_id=worker_id,
        )
        uow.queued += 1
        return True

    async def push_department(
        self, uow: UnitOfWork, department_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        """Queue a message to a department's first reachable contact."""
        contacts = [c for c in await uow.departments.contacts(department_id) if c.reachable]
        if not contacts:
            log.warning("department %s has no reachable contact; message not queued", department_id)
            return False
        await uow.outbox.enqueue(
            contacts[0].channel,
            contacts[0].user_id,
            outbound_to_dict(message),
            now=self.clock.now(),
            ticket_id=ticket.id if ticket else None,
        )
        uow.queued += 1
        return True

    # --- the staff API (one transaction each; the admin console calls these) --------------

    async def _ticket(self, uow: UnitOfWork, number: str) -> Ticket:
        ticket = await uow.tickets.by_number(number, for_update=True)
        if ticket is None:
            raise TicketNotFound(f"no ticket {number}")
        return ticket

    async def _check(
        self, uow: UnitOfWork, actor: Actor, ticket: Ticket, *, staff: bool = False
    ) -> None:
        """Admin/system actors are authorised by the console; workers by their role."""
        if actor.kind in ("admin", "system"):
            return
        if actor.kind != "worker" or actor.worker_id is None:
            raise PermissionDenied(f"{actor.kind} may not do this")
        worker = await uow.registry.worker(actor.worker_id)
        if worker is None or not worker.active:
            raise PermissionDenied("unknown or inactive worker")
        if staff and worker.role not in ("grid_leader", "community_staff"):
            raise PermissionDenied("only grid leaders and community staff may do this")
        if not await self.may_act(uow, worker, ticket):
            raise PermissionDenied(f"{worker.name} may not act on {ticket.number}")

    async def _department(
        self, uow: UnitOfWork, department: str | int, community_id: int | None
    ) -> Department:
        if isinstance(department, int):
            found = await uow.departments.get(department)
            if found is None or not found.active:
                raise UnknownDepartment(f"no department {department}")
            return found
        rows = await uow.departments.for_community(community_id)
        ref = resolve_department(
            department, [department_ref(d) for d in rows], community_id=community_id
        )
        if ref is None:
            raise UnknownDepartment(f"no department called {department!r}")
        return next(d for d in rows if d.id == ref.id)

    async def merge(self, number: str, into: str, *, actor: Actor, reason: str = "") -> Ticket:
        """Merge ticket ``number`` into ticket ``into`` (staff).

        Raises:
            TicketNotFound, PermissionDenied, InvalidTransition (a closed ticket, or itself).
        """
        async with self.store.unit() as uow:
            first, second = sorted([number.upper(), into.upper()])
            # lock in a fixed order: two staff merging crosswise must not deadlock
            locked = {n: await self._ticket(uow, n) for n in (first, second) if n}
            source, target = locked[number.upper()], locked[into.upper()]
            await self._check(uow, actor, source, staff=True)
            await self._check(uow, actor, target, staff=True)
            await self.merge_tickets(
                uow,
                source,
                target,
                actor,
                reason or t("worker.merge_ok", source=source.number, target=target.number),
            )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return source

    async def hand_to_department(
        self,
        number: str,
        department: str | int,
        *,
        actor: Actor,
        note: str = "",
        cohandler: bool = False,
    ) -> Ticket:
        """Hand a ticket to a department (or add one as co-handler); the assignee stays in charge.

        Raises:
            TicketNotFound, UnknownDepartment, PermissionDenied, InvalidTransition.
        """
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            await self._check(uow, actor, ticket)
            found = await self._department(uow, department, ticket.community_id)
            await self.involve_department(uow, ticket, found, actor, note=note, cohandler=cohandler)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def department_reply(
        self, number: str, department: str | int, text: str, *, actor: Actor, done: bool = False
    ) -> Ticket:
        """Record a department's reply (typed into the console on its behalf, or by itself).

        Raises:
            TicketNotFound, UnknownDepartment, PermissionDenied, InvalidTransition.
        """
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            found = await self._department(uow, department, ticket.community_id)
            if actor.kind == "department":
                if actor.id != str(found.id):
                    raise PermissionDenied("a department answers only for itself")
                parties = {p.department_id for p in await uow.departments.parties(ticket.id or 0)}
                if found.id not in parties:
                    raise PermissionDenied(f"{ticket.number} was not handed to {found.name}")
            else:
                await self._check(uow, actor, ticket)
            await self.record_department_reply(uow, ticket, found, text, actor, done=done)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def add_note(
        self, number: str, text: str, *, actor: Actor, tell_resident: bool = False
    ) -> Ticket:
        """A staff note on the timeline; the assignee is told, the resident only when asked."""
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            await self._check(uow, actor, ticket)
            await self.apply(
                uow, ticket, Move.NOTE, actor, note=text, data={"public": tell_resident}
            )
            if ticket.assignee_id and str(ticket.assignee_id) != actor.id:
                await self.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    worker_notice("worker.note", ticket.number, note=text, status=ticket.status),
                    ticket,
                )
            if tell_resident:
                await self.push_resident(uow, ticket, "note", note=text)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def close(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Close a resolved ticket without waiting for the rating (staff)."""
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            await self._check(uow, actor, ticket, staff=True)
            await self.apply(uow, ticket, Move.CLOSE, actor, note=reason)
            await self.push_resident(uow, ticket, "closed", note=reason)
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def cancel(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Withdraw a ticket nobody has accepted yet (a mistaken or test report; staff)."""
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            await self._check(uow, actor, ticket, staff=True)
            await self.apply(uow, ticket, Move.CANCEL, actor, note=reason)
            await self.push_resident(uow, ticket, "cancelled", note=reason)
            if ticket.assignee_id:
                await self.push_to_worker(
                    uow,
                    ticket.assignee_id,
                    Outbound(text=t("push.cancelled", number=ticket.number, note=reason)),
                    ticket,
                )
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def escalate_now(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        """Escalate one level above the current handler by hand (staff or the assignee)."""
        async with self.store.unit() as uow:
            ticket = await self._ticket(uow, number)
            await self._check(uow, actor, ticket)
            level = min(TOP_LEVEL, await self.handler_level(uow, ticket) + 1)
            await self.escalate(uow, ticket, level, actor, reason=reason, why="manual")
            queued = uow.queued > 0
        if queued:
            self.kick()
        return ticket

    async def timeline(self, number: str) -> list[TicketEvent]:
        """Every event of a ticket, oldest first."""
        async with self.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            if ticket is None:
                raise TicketNotFound(f"no ticket {number}")
            return list(await uow.tickets.events(ticket.id or 0))

    async def followers(self, number: str) -> list[TicketFollower]:
        async with self.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            if ticket is None:
                raise TicketNotFound(f"no ticket {number}")
            return list(await uow.followers.for_ticket(ticket.id or 0))

    async def clocks(self, number: str) -> list[TicketClock]:
        async with self.store.unit() as uow:
            ticket = await uow.tickets.by_number(number)
            if ticket is None:
                raise TicketNotFound(f"no ticket {number}")
            return list(await uow.clocks.for_ticket(ticket.id or 0))

    async def departments(self, community_id: int | None = None) -> list[Department]:
        async with self.store.unit() as uow:
            return list(await uow.departments.for_community(community_id, active_only=False))

    async def register_department(
        self,
        name: str,
        *,
        kind: str = DepartmentKind.OTHER,
        community_id: int | None = None,
        aliases: Iterable[str] = (),
        phone: str = "",
        contacts: Iterable[tuple[str, str, str]] = (),
    ) -> Department:
        """Add a department with its contacts ((channel, user id, name) each).

        Raises:
            StorageError (DuplicateError): the name or a contact identity exists already.
        """
        async with self.store.unit() as uow:
            department = await uow.departments.add(
                Department(
                    community_id=community_id,
                    name=name,
                    kind=str(kind),
                    aliases=list(aliases),
                    phone=phone,
                    created_at=self.clock.now(),
                )
            )
            for priority, (channel, user_id, contact_name) in enumerate(contacts):
                await uow.departments.add_contact(
                    DepartmentContact(
                        department_id=department.id or 0,
                        channel=channel,
                        user_id=user_id,
                        name=contact_name,
                        priority=priority,
                        created_at=self.clock.now(),
                    )
                )
            return department

    # --- Open311 (read only) ---------------------------------------------------------------

    def open311_services(self, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        check_jurisdiction(params or {}, self.config.open311)
        return service_list()

    async def open311_requests(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET requests.json``. Raises Open311Error (400) for bad parameters."""
        query = parse_query(
            params, now=self.clock.now(), policy=self.config.open311, codes=service_codes()
        )
        return await self._open311(query)

    async def open311_request(self, number: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET requests/{id}.json``: a one-element list. Raises Open311Error (404)."""
        check_jurisdiction(params, self.config.open311)
        found = await self._open311(RequestQuery(numbers=(number.upper(),)))
        if not found:
            raise Open311Error(404, f"service_request_id {number} was not found")
        return found

    async def _open311(self, query: RequestQuery) -> list[dict[str, Any]]:
        async with self.store.unit() as uow:
            rows = await uow.finder.requests(
                numbers=query.numbers,
                categories=query.categories or None,
                start=query.start,
                end=query.end,
                statuses=query.statuses,
                limit=query.limit,
            )
            ids = [r.id or 0 for r in rows]
            communities = {c.id: c for c in await uow.registry.communities()}
            buildings = {b.id: b for b in await uow.registry.buildings()}
            grids = {g.id: g for g in await uow.registry.grids()}
            events = await uow.finder.events_for(
                ids, (*PUBLIC_NOTE_KINDS, "merge", "handoff", "cohandle")
            )
            deadlines = await uow.clocks.pending_for_tickets(ids, ClockKind.RESOLVE.value)
        labels = {code: category_label(code) for code in service_codes()}
        public: list[PublicTicket] = []
        for row in rows:
            history = events.get(row.id or 0, [])
            notes = [e.note for e in history if e.kind in PUBLIC_NOTE_KINDS and e.note]
            merged = [str(e.data.get("into", "")) for e in history if e.kind == "merge"]
            departments = tuple(
                dict.fromkeys(
                    str(e.data.get("department", ""))
                    for e in history
                    if e.kind in ("handoff", "cohandle") and e.data.get("department")
                )
            )
            community = communities.get(row.community_id) if row.community_id else None
            building = buildings.get(row.building_id) if row.building_id else None
            grid = grids.get(row.grid_id) if row.grid_id else None
            target = self.config.sla.target(row.category, row.priority)
            deadline = deadlines.get(row.id or 0)
            public.append(
                PublicTicket(
                    number=row.number,
                    status=row.status,
                    category=row.category,
                    description=row.description,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    community=community.name if community else "",
                    street=community.street if community else "",
                    building=building.name if building else "",
                    building_lat=building.latitude if building else None,
                    building_lon=building.longitude if building else None,
                    ticket_lat=row.latitude,
                    ticket_lon=row.longitude,
                    grid=grid.name if grid else "",
                    departments=departments,
                    last_note=notes[-1] if notes else "",
                    merged_into=merged[-1] if merged else "",
                    expected_at=deadline.due_at if deadline and deadline.level <= 1 else None,
                    accept_target=duration_text(target.accept.total_seconds()),
                    resolve_target=duration_text(target.resolve.total_seconds()),
                    labels=labels,
                )
            )
        return records(public, self.config.open311)
