"""What a due SLA clock does (I/O): escalate up the grid, remind, report overdue, close an
unrated ticket — and escalation by hand or after an unsatisfied rating.

``handlers.sla`` decides (pure) what a due clock means and who the next rung is; this module
carries it out (``TicketService.on_clock`` picks which): the move, the task cards to the
supervisors, the notices to the worker and the resident.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.flows import category_label
from handlers.i18n import t
from handlers.lifecycle import COMMUNITY_LEVEL, STREET_LEVEL, Actor, Move, next_status
from handlers.notices import worker_notice
from handlers.ports import Clock
from handlers.routing import WorkerRef
from handlers.sla import (
    SlaPolicy,
    duration_text,
    escalation_targets,
)
from handlers.tickets.common import Snapshot, log, scoped_snapshot
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Ticket, TicketClock


def who_text(level: int, targets: Sequence[WorkerRef], locale: str = "zh") -> str:
    """Who a ticket went up to, in words for the resident and the worker."""
    if level >= STREET_LEVEL:
        return t("who.street_staff", locale)
    if level >= COMMUNITY_LEVEL or not targets:
        return t("who.community_staff", locale)
    return t("who.grid_leader", locale, name="、".join(w.name for w in targets[:3]))


def supervisors_of(ticket: Ticket, level: int, snap: Snapshot) -> tuple[int, list[WorkerRef]]:
    """Who a ticket escalates to at ``level`` (up when nobody is there), never its assignee."""
    exclude = frozenset({ticket.assignee_id}) if ticket.assignee_id else frozenset()
    reached, targets = escalation_targets(
        level,
        grid_id=ticket.grid_id,
        community_id=ticket.community_id,
        grids=snap.grids,
        workers=snap.workers,
        exclude=exclude,
        street_of=snap.street_of,
    )
    return reached, list(targets)


class Escalation:
    """Escalations, reminders, overdue notices and closing unrated tickets.

    Args:
        clock: the time source.
        policy: the SLA policy (the rating timeout).
        moves: applies the moves.
        notify: task cards and notices.
    """

    def __init__(
        self, clock: Clock, policy: SlaPolicy, moves: Moves, notify: Notifications
    ) -> None:
        self.clock = clock
        self.policy = policy
        self.moves = moves
        self.notify = notify

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
        """Escalate to a level (1 grid leader, 2 community staff, 3 street staff; up when
        nobody is there). Reaching the street refers the ticket to it (``tier`` street).

        ``why``: ``timeout`` (a missed accept deadline), ``reopened`` (unsatisfied resident) or
        ``manual``. Returns the level reached and who was told (empty: nobody to tell; the
        ticket keeps its status and the failure is on its timeline).
        """
        next_status(ticket.status, Move.ESCALATE)
        snap = snapshot or await scoped_snapshot(
            uow, community_id=ticket.community_id, grid_id=ticket.grid_id
        )
        reached, targets = supervisors_of(ticket, level, snap)
        if not targets:
            await self.moves.event(
                uow, ticket, "escalation_failed", actor, note=reason, data={"level": level}
            )
            log.warning("ticket %s: nobody to escalate to (level %s)", ticket.number, level)
            return reached, []
        if reached >= STREET_LEVEL:
            ticket.tier = "street"
        await self.moves.apply(
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
            await self.notify.push_task(uow, target.id, ticket, prefix=prefix)
        who = who_text(reached, targets)
        if assignee is not None and assignee.id not in {w.id for w in targets}:
            key = "worker.escalated.reopened" if why == "reopened" else "worker.escalated"
            await self.notify.push_to_worker(
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
            await self.notify.push_resident(uow, ticket, "escalated", who=who)
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
        snap = snapshot or await scoped_snapshot(
            uow, community_id=ticket.community_id, grid_id=ticket.grid_id
        )
        reached, targets = supervisors_of(ticket, level, snap)
        target_text = duration_text(target_seconds)
        await self.moves.apply(
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
            await self.notify.push_to_worker(
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
            await self.notify.push_to_worker(
                uow,
                assignee.id or 0,
                worker_notice(
                    "worker.overdue",
                    ticket.number,
                    target=target_text,
                    who=who_text(reached, targets),
                    status=ticket.status,
                ),
                ticket,
            )
        return reached, targets

    async def remind(self, uow: UnitOfWork, ticket: Ticket, clock: TicketClock, what: str) -> str:
        """A deadline is near: the assignee is reminded. Returns what was done (for the log)."""
        next_status(ticket.status, Move.REMIND)
        left = (clock.deadline_at - self.clock.now()).total_seconds() if clock.deadline_at else 0
        left_text = duration_text(max(60.0, left))
        await self.moves.apply(
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
        await self.notify.push_to_worker(
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
        """Nobody rated a resolved ticket in time: it closes; resident and worker are told."""
        days = duration_text(self.policy.rating_timeout.total_seconds())
        await self.moves.apply(
            uow, ticket, Move.CLOSE, Actor.system("SLA"), note=f"居民{days}未评价，自动关闭"
        )
        await self.notify.push_resident(uow, ticket, "closed_unrated", days=days)
        if ticket.assignee_id:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                worker_notice(
                    "worker.closed_unrated", ticket.number, days=days, status=ticket.status
                ),
                ticket,
            )
