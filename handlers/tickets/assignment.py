"""Filing, routing and assigning (I/O): a new ticket is stored, routed along the grid to a
worker, given its clocks and its task card; a worker accepts.

Routing itself is pure (``handlers.routing``); this module loads the registry snapshot it
chooses from and carries the decision out.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.lifecycle import Actor, Move, next_status
from handlers.ports import Clock
from handlers.routing import RouteDecision, WorkerRef, route
from handlers.tickets.clocks import SlaClocks
from handlers.tickets.common import Snapshot, load_snapshot, log, scoped_snapshot
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket


class Assignment:
    """Files, routes, assigns and accepts tickets.

    Args:
        clock: the time source.
        moves: applies the moves.
        clocks: the SLA clocks of a new ticket.
        notify: task cards and resident updates.
    """

    def __init__(
        self, clock: Clock, moves: Moves, clocks: SlaClocks, notify: Notifications
    ) -> None:
        self.clock = clock
        self.moves = moves
        self.clocks = clocks
        self.notify = notify

    async def snapshot(self, uow: UnitOfWork) -> Snapshot:
        return await load_snapshot(uow)

    async def route(
        self, uow: UnitOfWork, ticket: Ticket, exclude: frozenset[int] = frozenset()
    ) -> RouteDecision:
        found = await scoped_snapshot(uow, community_id=ticket.community_id, grid_id=ticket.grid_id)
        return route(
            grid_id=ticket.grid_id,
            community_id=ticket.community_id,
            grids=found.grids,
            workers=found.workers,
            exclude=exclude,
        )

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
        await self.moves.event(uow, ticket, "created", actor, note=ticket.description)
        if photos:
            await uow.attachments.attach(photos, ticket.id or 0)
        await self.clocks.callback_for_new(uow, ticket)  # before the card, which shows it
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
        await self.clocks.for_new(uow, ticket)
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
        card: bool = True,
    ) -> None:
        """Give the ticket to a worker (assign or transfer) and send them the task card
        (``card=False``: they filed it themselves and already have its buttons)."""
        next_status(ticket.status, move)  # refuse before changing the assignee
        now = self.clock.now()
        ticket.assignee_id = worker.id
        ticket.assigned_at = now
        if worker.grid_id is not None:
            ticket.grid_id = (
                ticket.grid_id if move == Move.ASSIGN and ticket.grid_id else worker.grid_id
            )
        await self.moves.apply(
            uow,
            ticket,
            move,
            actor,
            note=reason,
            data={"assignee_id": worker.id, "assignee": worker.name},
        )
        if card:
            await self.notify.push_task(uow, worker.id or 0, ticket, prefix=prefix)

    async def accept(
        self, uow: UnitOfWork, ticket: Ticket, worker: GridWorker, actor: Actor
    ) -> None:
        """The worker takes the ticket on; the resident hears who handles it."""
        next_status(ticket.status, Move.ACCEPT)
        ticket.assignee_id = worker.id
        await self.moves.apply(uow, ticket, Move.ACCEPT, actor)
        await self.notify.push_resident(uow, ticket, "accepted", worker=worker.name)
