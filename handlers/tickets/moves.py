"""The one way a ticket moves (I/O): check the move, change the status, record the event,
start and stop its clocks — in the caller's transaction.

```mermaid
flowchart LR
    move --> check["lifecycle.next_status<br/>(InvalidTransition: nothing changed)"]
    check --> save[status + timestamps saved] --> event[TicketEvent] --> clocks[SLA clocks]
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from handlers.lifecycle import Actor, Move, next_status
from handlers.ports import Clock
from handlers.tickets.clocks import SlaClocks
from storage.interfaces import UnitOfWork
from storage.models import Ticket, TicketEvent

AfterMove = Callable[[UnitOfWork, Ticket, Move, Actor], Awaitable[None]]


class Moves:
    """Applies moves and records events.

    Args:
        clock: the time source.
        clocks: starts and stops the SLA clocks a move implies.
    """

    def __init__(self, clock: Clock, clocks: SlaClocks) -> None:
        self.clock = clock
        self.clocks = clocks
        # called after every move in the same transaction (a resolved ticket asks its
        # building head to confirm: handlers/people_service.py)
        self.after: list[AfterMove] = []

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
        elif move in (Move.RESOLVE, Move.CITY_RESOLVE):
            ticket.resolved_at = now
        elif move in (Move.RATE, Move.CLOSE, Move.CANCEL, Move.MERGE):
            ticket.closed_at = now
        elif move == Move.REOPEN:
            ticket.reopen_count += 1
            ticket.resolved_at = None
        await uow.tickets.save(ticket)
        await self.event(uow, ticket, move.value, actor, note=note, before=before, data=data)
        await self.clocks.after_move(uow, ticket, move, now=now, level=level)
        for hook in self.after:
            await hook(uow, ticket, move, actor)
        return before

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
        """Record an event on the ticket's timeline (also for changes that are not moves)."""
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
