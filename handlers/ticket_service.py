"""Ticket operations (I/O): every move through the state machine, with its event, its SLA
clocks and its notifications, written in the caller's transaction.

``TicketService`` is the facade the conversations (``service.py``), the SLA sweeper
(``sla_service.py``), the console and the Open311 API call; each concern lives in its own
module under ``handlers/tickets/``:

==================  ==========================================================================
module              concern
==================  ==========================================================================
``common``          policies, the registry snapshot, look-ups every concern shares
``moves``           the one way a ticket moves: check, status, event, clocks
``clocks``          SLA clock rows started and stopped by moves
``assignment``      filing, routing, assigning, accepting
``escalation``      what a due clock does: escalate, remind, overdue, close unrated
``residents``       rating, duplicates, following, supplements
``departments``     hand-offs, co-handling, department replies, the department register
``staff``           merge, reassign, re-categorise, note, close, cancel, manual escalation
``street``          refer to the street, send back down, forward to 12345, 12345's answers
``desk``            the staff API by ticket number, one transaction and permission check each
``access``          permission checks over ``handlers.permissions``
``notify``          queuing messages to residents, followers, workers, departments
``queries``         timeline, followers, clocks, the Open311 feed
==================  ==========================================================================

Methods taking a ``uow`` join the caller's transaction; methods taking a ticket number
(``merge``, ``add_note``, ``close`` …, the ``desk``) open their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from handlers.departments import DepartmentKind
from handlers.lifecycle import Actor, Move
from handlers.messages import Outbound
from handlers.ports import Clock
from handlers.routing import RouteDecision, WorkerRef
from handlers.sla import (
    CallbackMissed,
    ClockPlan,
    CloseUnrated,
    Decision,
    Escalate,
    Overdue,
    Remind,
    WorkingHours,
    duration_text,
)
from handlers.tickets import access
from handlers.tickets.assignment import Assignment
from handlers.tickets.callbacks import Callbacks
from handlers.tickets.clocks import SlaClocks
from handlers.tickets.common import (
    OPEN_STATUSES,
    PUBLIC_NOTE_KINDS,
    Duplicate,
    LifecycleConfig,
    Snapshot,
    UnknownDepartment,
    department_ref,
    facts_of,
    handler_level,
    scoped_snapshot,
    working_hours,
)
from handlers.tickets.departments import DepartmentWork
from handlers.tickets.desk import StaffDesk
from handlers.tickets.escalation import Escalation
from handlers.tickets.hotspots import Hotspots
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications, with_accept_deadline
from handlers.tickets.queries import TicketQueries
from handlers.tickets.residents import ResidentSide
from handlers.tickets.staff import StaffMoves
from handlers.tickets.street import StreetLevel
from handlers.tickets.withdrawal import Withdrawal
from storage.interfaces import Store, UnitOfWork
from storage.models import (
    Department,
    GridWorker,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketFollower,
)

__all__ = [
    "OPEN_STATUSES",
    "PUBLIC_NOTE_KINDS",
    "Duplicate",
    "LifecycleConfig",
    "Snapshot",
    "TicketService",
    "UnknownDepartment",
    "department_ref",
    "facts_of",
    "with_accept_deadline",
]


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

        notify = self.notifications = Notifications(clock)
        sla_clocks = self.sla_clocks = SlaClocks(clock, self.config.sla)
        moves = self.moves = Moves(clock, sla_clocks)
        assignment = self.assignment = Assignment(clock, moves, sla_clocks, notify)
        escalation = self.escalation = Escalation(clock, self.config.sla, moves, notify)
        self.residents = ResidentSide(clock, self.config.duplicates, moves, notify, escalation)
        work = self.department_work = DepartmentWork(clock, moves, notify)
        self.staff = StaffMoves(clock, moves, assignment, escalation, notify)
        self.desk = StaffDesk(store, self.staff, work, self.kick)
        self.queries = TicketQueries(store, clock, self.config)
        self.callbacks = Callbacks(clock, moves, notify)
        self.withdrawal = Withdrawal(moves, notify)
        self.hotspots = Hotspots(clock, self.config.hotspots, notify)
        self.street = StreetLevel(clock, moves, notify)

    def kick(self) -> None:
        """Wake the outbox dispatcher (after a commit that queued messages)."""
        self._on_outbox()

    # --- registry and routing (assignment) ------------------------------------------------

    async def snapshot(
        self, uow: UnitOfWork, *, community_id: int | None = None, grid_id: int | None = None
    ) -> Snapshot:
        """Grids and workers with their loads: all of them, or those of one community (and
        the grid's) when given."""
        if community_id is None and grid_id is None:
            return await self.assignment.snapshot(uow)
        return await scoped_snapshot(uow, community_id=community_id, grid_id=grid_id)

    async def working_hours(self, uow: UnitOfWork, community_id: int | None) -> WorkingHours | None:
        return await working_hours(uow, community_id)

    async def route(
        self, uow: UnitOfWork, ticket: Ticket, exclude: frozenset[int] = frozenset()
    ) -> RouteDecision:
        return await self.assignment.route(uow, ticket, exclude)

    async def handler_level(self, uow: UnitOfWork, ticket: Ticket) -> int:
        return await handler_level(uow, ticket)

    # --- permissions (access over handlers.permissions) --------------------------------------

    async def may_act(self, uow: UnitOfWork, worker: GridWorker, ticket: Ticket) -> bool:
        """May the worker work on the ticket (``handlers.permissions``, action ``handle``)?"""
        return await access.may_act(uow, worker, ticket)

    async def supervised(
        self, uow: UnitOfWork, supervisor: GridWorker, tickets: Sequence[Ticket]
    ) -> list[Ticket]:
        """The tickets a grid leader or staff member supervises."""
        return await access.supervised(uow, supervisor, tickets)

    # --- moves and clocks ------------------------------------------------------------------

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
        return await self.moves.apply(uow, ticket, move, actor, note=note, data=data, level=level)

    async def run_plan(self, uow: UnitOfWork, ticket: Ticket, clocks: ClockPlan) -> None:
        await self.sla_clocks.run_plan(uow, ticket, clocks)

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
        await self.moves.event(uow, ticket, kind, actor, note=note, before=before, data=data)

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
        assignee = await self.assignment.file(
            uow, ticket, actor=actor, photos=photos, card_prefix=card_prefix
        )
        await self.hotspots.after_report(uow, ticket)
        return assignee

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
        card: bool = True,
    ) -> None:
        await self.assignment.assign(
            uow, ticket, worker, reason, actor=actor, move=move, prefix=prefix, card=card
        )

    async def accept(
        self, uow: UnitOfWork, ticket: Ticket, worker: GridWorker, actor: Actor
    ) -> None:
        await self.assignment.accept(uow, ticket, worker, actor)

    # --- escalation, reminders, overdue, unrated ----------------------------------------------

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
        return await self.escalation.escalate(
            uow,
            ticket,
            level,
            actor,
            reason=reason,
            why=why,
            target_seconds=target_seconds,
            score=score,
            snapshot=snapshot,
        )

    async def overdue(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        level: int,
        *,
        target_seconds: int,
        snapshot: Snapshot | None = None,
    ) -> tuple[int, list[WorkerRef]]:
        return await self.escalation.overdue(
            uow, ticket, level, target_seconds=target_seconds, snapshot=snapshot
        )

    async def remind(self, uow: UnitOfWork, ticket: Ticket, clock: TicketClock, what: str) -> str:
        return await self.escalation.remind(uow, ticket, clock, what)

    async def close_unrated(self, uow: UnitOfWork, ticket: Ticket) -> None:
        await self.escalation.close_unrated(uow, ticket)

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
        if isinstance(decision, CallbackMissed):
            return await self.callbacks.missed(uow, ticket, clock, decision.level, snapshot)
        if isinstance(decision, CloseUnrated):
            await self.close_unrated(uow, ticket)
            return "closed unrated"
        return f"skipped: {decision.reason}"

    async def record_callback(
        self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, reached: bool
    ) -> str:
        """已回电 / 联系不上: the call is on the timeline and the call-back clock stops."""
        return await self.callbacks.record(uow, ticket, actor, reached=reached)

    # --- the resident's side ------------------------------------------------------------------

    async def withdraw(self, uow: UnitOfWork, ticket: Ticket, actor: Actor, reason: str) -> None:
        """The reporter withdraws their unresolved report; the worker is told."""
        await self.withdrawal.withdraw(uow, ticket, actor, reason)

    async def rate(
        self, uow: UnitOfWork, ticket: Ticket, score: int, comment: str, actor: Actor
    ) -> Outbound:
        return await self.residents.rate(uow, ticket, score, comment, actor)

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
        return await self.residents.find_duplicate(
            uow,
            category=category,
            community_id=community_id,
            building_id=building_id,
            latitude=latitude,
            longitude=longitude,
            channel=channel,
            user_id=user_id,
        )

    async def follow(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        *,
        channel: str,
        user_id: str,
        resident_id: int | None,
    ) -> bool:
        added = await self.residents.follow(
            uow, ticket, channel=channel, user_id=user_id, resident_id=resident_id
        )
        if added:  # a neighbour reporting the same problem again counts towards a hotspot
            await self.hotspots.after_report(uow, ticket)
        return added

    async def supplement(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        *,
        text: str,
        photos: Sequence[int] = (),
    ) -> str:
        return await self.residents.supplement(uow, ticket, actor, text=text, photos=photos)

    # --- staff and departments (in the caller's transaction) ---------------------------------

    async def merge_tickets(
        self, uow: UnitOfWork, source: Ticket, target: Ticket, actor: Actor, reason: str
    ) -> int:
        return await self.staff.merge_tickets(uow, source, target, actor, reason)

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
        return await self.department_work.involve_department(
            uow, ticket, department, actor, note=note, cohandler=cohandler
        )

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
        await self.department_work.record_department_reply(
            uow, ticket, department, text, actor, done=done
        )

    # --- pushing messages ---------------------------------------------------------------------

    async def reporter_locale(self, uow: UnitOfWork, ticket: Ticket) -> str:
        return await self.notifications.reporter_locale(uow, ticket)

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
        return await self.notifications.push_resident(
            uow, ticket, kind, reporter=reporter, followers=followers, photos=photos, **values
        )

    async def push_task(
        self, uow: UnitOfWork, worker_id: int, ticket: Ticket, *, prefix: str = ""
    ) -> None:
        await self.notifications.push_task(uow, worker_id, ticket, prefix=prefix)

    async def push_to_worker(
        self, uow: UnitOfWork, worker_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        return await self.notifications.push_to_worker(uow, worker_id, message, ticket)

    async def push_department(
        self, uow: UnitOfWork, department_id: int, message: Outbound, ticket: Ticket | None
    ) -> bool:
        return await self.notifications.push_department(uow, department_id, message, ticket)

    # --- the staff API (one transaction each, by ticket number) ------------------------------

    async def merge(self, number: str, into: str, *, actor: Actor, reason: str = "") -> Ticket:
        return await self.desk.merge(number, into, actor=actor, reason=reason)

    async def hand_to_department(
        self,
        number: str,
        department: str | int,
        *,
        actor: Actor,
        note: str = "",
        cohandler: bool = False,
    ) -> Ticket:
        return await self.desk.hand_to_department(
            number, department, actor=actor, note=note, cohandler=cohandler
        )

    async def department_reply(
        self, number: str, department: str | int, text: str, *, actor: Actor, done: bool = False
    ) -> Ticket:
        return await self.desk.department_reply(number, department, text, actor=actor, done=done)

    async def add_note(
        self, number: str, text: str, *, actor: Actor, tell_resident: bool = False
    ) -> Ticket:
        return await self.desk.add_note(number, text, actor=actor, tell_resident=tell_resident)

    async def close(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        return await self.desk.close(number, actor=actor, reason=reason)

    async def cancel(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        return await self.desk.cancel(number, actor=actor, reason=reason)

    async def escalate_now(self, number: str, *, actor: Actor, reason: str) -> Ticket:
        return await self.desk.escalate_now(number, actor=actor, reason=reason)

    async def departments(self, community_id: int | None = None) -> list[Department]:
        return await self.desk.departments(community_id)

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
        return await self.desk.register_department(
            name,
            kind=kind,
            community_id=community_id,
            aliases=aliases,
            phone=phone,
            contacts=contacts,
        )

    # --- reading, and Open311 ------------------------------------------------------------------

    async def timeline(self, number: str) -> list[TicketEvent]:
        return await self.queries.timeline(number)

    async def followers(self, number: str) -> list[TicketFollower]:
        return await self.queries.followers(number)

    async def clocks(self, number: str) -> list[TicketClock]:
        return await self.queries.clocks(number)

    def open311_services(self, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return self.queries.open311_services(params)

    async def open311_requests(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        return await self.queries.open311_requests(params)

    async def open311_request(self, number: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        return await self.queries.open311_request(number, params)
