"""The call-back promise (I/O): the worker records the call (已回电 / 联系不上), and a
call-back clock that runs out tells the supervisors, one rung at a time.

The seeds promise that the grid worker calls the resident back within 10 minutes of a
report (``SlaPolicy.callback``). The clock starts with the ticket (``handlers.sla.plan_new``);
recording a call (reached or not) stops it — the promise was to call, and an unanswered call
is on the timeline and told to the resident. A missed clock goes to the grid leader, then to
community staff (``CALLBACK_ESCALATE``), without changing the ticket's status.
"""

from __future__ import annotations

from dataclasses import replace

from handlers.i18n import t
from handlers.lifecycle import Actor, Move, next_status
from handlers.notices import LOCAL_TZ, task_buttons, worker_notice
from handlers.ports import Clock
from handlers.privacy import mask_text
from handlers.sla import duration_text
from handlers.tickets.common import Snapshot, scoped_snapshot
from handlers.tickets.escalation import supervisors_of, who_text
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Ticket, TicketClock


class Callbacks:
    """Records call-backs and carries out missed call-back clocks.

    Args:
        clock: the time source.
        moves: applies the moves (and stops the call-back clock).
        notify: notices to residents and workers.
    """

    def __init__(self, clock: Clock, moves: Moves, notify: Notifications) -> None:
        self.clock = clock
        self.moves = moves
        self.notify = notify

    async def record(self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, reached: bool) -> str:
        """The worker called the resident (``reached``) or could not reach them.

        Returns the local time of the call ("14:05") for the reply. Raises
        ``InvalidTransition`` when the ticket is no longer open.
        """
        next_status(ticket.status, Move.CALLBACK)
        now = self.clock.now()
        at = now.astimezone(LOCAL_TZ).strftime("%H:%M")
        await self.moves.apply(
            uow,
            ticket,
            Move.CALLBACK,
            actor,
            note=f"{at} 已回电居民" if reached else f"{at} 回电未接通",
            data={"outcome": "reached" if reached else "unreachable", "at": now.isoformat()},
        )
        if not reached:
            await self.notify.push_resident(
                uow, ticket, "callback_unreachable", followers=False, worker=actor.name, time=at
            )
        return at

    async def missed(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        clock: TicketClock,
        level: int,
        snapshot: Snapshot | None = None,
    ) -> str:
        """Nobody recorded a call-back in time: the next rung up is told (same status)."""
        next_status(ticket.status, Move.CALLBACK_ESCALATE)
        snap = snapshot or await scoped_snapshot(
            uow, community_id=ticket.community_id, grid_id=ticket.grid_id
        )
        reached, targets = supervisors_of(ticket, level, snap)
        target_text = duration_text(clock.target_seconds)
        await self.moves.apply(
            uow,
            ticket,
            Move.CALLBACK_ESCALATE,
            Actor.system("SLA"),
            note=f"超过{target_text}未回电居民",
            data={"level": reached, "to": [w.id for w in targets]},
            level=reached,
        )
        assignee = await uow.registry.worker(ticket.assignee_id) if ticket.assignee_id else None
        phone = ticket.contact_phone or t("confirm.no_phone")
        for target in targets:
            await self.notify.push_to_worker(
                uow,
                target.id,
                worker_notice(
                    "supervisor.callback_overdue",
                    ticket.number,
                    target=target_text,
                    worker=assignee.name if assignee else "-",
                    phone=phone,
                    status=ticket.status,
                ),
                ticket,
            )
        if assignee is not None and assignee.id not in {w.id for w in targets}:
            notice = worker_notice(
                "worker.callback_overdue",
                ticket.number,
                target=target_text,
                who=who_text(reached, targets),
                status=ticket.status,
            )
            # the call is still due: 已回电 / 联系不上 on the notice itself
            buttons = task_buttons(ticket.number, "zh", ticket.status, callback=True)
            await self.notify.push_to_worker(
                uow, assignee.id or 0, replace(notice, buttons=buttons), ticket
            )
        names = ",".join(w.name for w in targets) or "nobody"
        return mask_text(f"call-back overdue, level {reached}: {names}")
