"""SLA clock rows (I/O): started and stopped by moves, in the move's transaction.

``handlers.sla`` decides (pure) which clocks a move starts and stops; this module writes
that plan: new ``TicketClock`` rows with their due time (paused outside the community's
working hours), and cancelled ones.
"""

from __future__ import annotations

from datetime import datetime

from handlers.lifecycle import Move, is_open
from handlers.ports import Clock
from handlers.sla import (
    ClockKind,
    ClockPlan,
    SlaPolicy,
    SlaTicket,
    WorkingHours,
    plan,
    plan_callback,
    plan_new,
)
from handlers.tickets.common import handler_level, working_hours
from storage.interfaces import UnitOfWork
from storage.models import Ticket, TicketClock


class SlaClocks:
    """Starts and stops a ticket's clocks.

    Args:
        clock: the time source.
        policy: the SLA targets (per priority and category).
    """

    def __init__(self, clock: Clock, policy: SlaPolicy) -> None:
        self.clock = clock
        self.policy = policy

    async def working_hours(self, uow: UnitOfWork, community_id: int | None) -> WorkingHours | None:
        return await working_hours(uow, community_id)

    async def after_move(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        move: Move,
        *,
        now: datetime,
        level: int | None = None,
    ) -> None:
        """The clocks a move made at ``now`` (already applied to ``ticket``) starts and stops."""
        sla_ticket = SlaTicket(
            ticket.category, ticket.priority, ticket.status, await handler_level(uow, ticket)
        )
        hours = await working_hours(uow, ticket.community_id)
        await self.run_plan(
            uow, ticket, plan(move, sla_ticket, now, self.policy, hours, level=level)
        )

    async def for_new(self, uow: UnitOfWork, ticket: Ticket) -> None:
        """The clocks a newly filed ticket starts (its resolution deadline)."""
        hours = await working_hours(uow, ticket.community_id)
        sla_ticket = SlaTicket(ticket.category, ticket.priority, ticket.status)
        await self.run_plan(uow, ticket, plan_new(sla_ticket, self.clock.now(), self.policy, hours))

    async def callback_for_new(self, uow: UnitOfWork, ticket: Ticket) -> None:
        """The call-back clock of a newly filed ticket (the seeds' 10-minute promise), when
        the resident left a phone to call."""
        await self._callback(uow, ticket)

    async def callback_for_phone(self, uow: UnitOfWork, ticket: Ticket) -> datetime | None:
        """A phone added to a ticket filed without one: the call-back clock runs from now,
        unless the ticket is closed or already had a call-back clock (the promise is made
        once). Returns the new deadline, if one started."""
        if not is_open(ticket.status):
            return None
        clocks = await uow.clocks.for_ticket(ticket.id or 0)
        if any(c.kind == ClockKind.CALLBACK.value for c in clocks):
            return None
        return await self._callback(uow, ticket)

    async def _callback(self, uow: UnitOfWork, ticket: Ticket) -> datetime | None:
        hours = await working_hours(uow, ticket.community_id)
        sla_ticket = SlaTicket(ticket.category, ticket.priority, ticket.status)
        clocks = plan_callback(
            sla_ticket, self.clock.now(), self.policy, hours, phone=bool(ticket.contact_phone)
        )
        await self.run_plan(uow, ticket, clocks)
        return min((c.due_at for c in clocks.start), default=None)

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
