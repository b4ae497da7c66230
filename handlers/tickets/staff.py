"""What staff (and supervisors) do to a ticket (I/O, in the caller's transaction): merge,
reassign, re-categorise, add a note, close, withdraw, escalate by hand.

One implementation each, for the console, the JSON API and the chat alike; who may do it is
checked by the caller against ``handlers.permissions``. The resident, the ticket's followers
and the workers are told through the outbox, sent only if the transaction commits.

```mermaid
stateDiagram-v2
    submitted --> assigned: reassign (first assignment)
    assigned --> transferred: reassign
    accepted --> transferred: reassign
    submitted --> cancelled: close (console: nothing done yet) / cancel
    assigned --> cancelled: close (console) / cancel
    accepted --> resolved: close (then closed)
    in_progress --> resolved: close (then closed)
    resolved --> closed: close
```
"""

from __future__ import annotations

from handlers.errors import InvalidTransition, PermissionDenied
from handlers.flows import category_label, flow_for_category
from handlers.i18n import pick, t
from handlers.lifecycle import FINAL, TOP_LEVEL, WORKING, Actor, Move, Status, is_open, next_status
from handlers.messages import Outbound
from handlers.notices import worker_notice
from handlers.ports import Clock
from handlers.tickets.assignment import Assignment
from handlers.tickets.common import handler_level, reporter_locale
from handlers.tickets.escalation import Escalation
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket

MAX_NOTE = 2000
UNACCEPTED = (Status.SUBMITTED, Status.ASSIGNED)

_TEXT: dict[str, dict[str, str]] = {
    "reassigned_in": {
        "zh": "【社区转派】{actor}将工单 {number} 转派给您：{reason}",
        "en": "[Reassigned] {actor} assigned {number} to you: {reason}",
    },
    "reassigned_out": {
        "zh": "工单 {number} 已由{actor}转派给{target}，您无需再处理。",
        "en": "{actor} reassigned {number} to {target}; no further action needed from you.",
    },
    "recategorized": {
        "zh": "您反映的问题（工单 {number}）已归为“{category}”类，会按此继续处理。",
        "en": "Your report {number} has been filed under '{category}' and is handled as such.",
    },
    "closed_worker": {
        "zh": "工单 {number} 已由{actor}关闭：{reason}",
        "en": "{actor} closed {number}: {reason}",
    },
}


def _t(key: str, locale: str = "zh", **values: object) -> str:
    return pick(_TEXT[key], locale).format(**values)


def staff_actor(user_id: str, name: str) -> Actor:
    """The console user acting (recorded on events as ``actor_type="admin"``)."""
    return Actor.admin(user_id, name)


def _notice(text: str, number: str) -> Outbound:
    return Outbound(text=text, kind="worker_notice", data={"number": number})


class StaffMoves:
    """Merge, reassign, re-categorise, note, close, withdraw and escalate by hand.

    Args:
        clock: the time source.
        moves: applies the moves.
        assignment: gives a ticket to another worker.
        escalation: escalates by hand.
        notify: tells residents and workers.
    """

    def __init__(
        self,
        clock: Clock,
        moves: Moves,
        assignment: Assignment,
        escalation: Escalation,
        notify: Notifications,
    ) -> None:
        self.clock = clock
        self.moves = moves
        self.assignment = assignment
        self.escalation = escalation
        self.notify = notify

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
        await self.moves.apply(
            uow, source, Move.MERGE, actor, note=reason, data={"into": target.number}
        )
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
        await self.moves.apply(
            uow,
            target,
            Move.ABSORB,
            actor,
            note=reason,
            data={"from": source.number, "residents": count},
        )
        await self.notify.push_resident(uow, source, "merged", target=target.number)
        if source.assignee_id and source.assignee_id != target.assignee_id:
            await self.notify.push_to_worker(
                uow,
                source.assignee_id,
                Outbound(text=t("worker.merged_away", source=source.number, target=target.number)),
                source,
            )
        if target.assignee_id:
            await self.notify.push_to_worker(
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

    async def reassign(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        worker: GridWorker,
        actor: Actor,
        *,
        reason: str = "",
    ) -> None:
        """Give an open ticket to another worker of its community.

        The new worker gets the task card (and an accept clock), the previous one a notice,
        the resident and the ticket's followers an update.

        Raises:
            InvalidTransition: the ticket is no longer open.
            PermissionDenied: the worker is inactive, of another community, or already
                assigned.
        """
        if not is_open(ticket.status):
            raise InvalidTransition(f"cannot reassign a ticket that is {ticket.status}")
        if not worker.active:
            raise PermissionDenied(f"worker {worker.name} is not active")
        if ticket.community_id is not None and worker.community_id != ticket.community_id:
            raise PermissionDenied("the worker belongs to another community")
        if ticket.assignee_id == worker.id and ticket.status != Status.SUBMITTED:
            raise PermissionDenied(f"the ticket is assigned to {worker.name} already")
        previous = ticket.assignee_id
        move = Move.ASSIGN if ticket.status == Status.SUBMITTED else Move.TRANSFER
        reason = reason.strip()[:MAX_NOTE]
        prefix = _t("reassigned_in", actor=actor.name, number=ticket.number, reason=reason or "—")
        await self.assignment.assign(
            uow, ticket, worker, reason, actor=actor, move=move, prefix=prefix
        )
        if previous is not None and previous != worker.id:
            text = _t("reassigned_out", number=ticket.number, actor=actor.name, target=worker.name)
            await self.notify.push_to_worker(uow, previous, _notice(text, ticket.number), ticket)
        await self.notify.push_resident(uow, ticket, "transferred", target=f"网格员{worker.name}")

    async def recategorize(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        category: str,
        actor: Actor,
        *,
        note: str = "",
    ) -> str:
        """Correct a ticket's category (the review inbox picks the change up for training).

        Returns:
            The previous category.

        Raises:
            PermissionDenied: the category is unknown or unchanged.
        """
        if flow_for_category(category) is None:
            raise PermissionDenied(f"unknown category {category!r}")
        if category == ticket.category:
            raise PermissionDenied("the ticket has this category already")
        previous = ticket.category
        ticket.category = category
        ticket.updated_at = self.clock.now()
        await uow.tickets.save(ticket)
        await self.moves.event(
            uow,
            ticket,
            "recategorize",
            actor,
            before=ticket.status,
            note=note.strip()[:MAX_NOTE],
            data={
                "from": previous,
                "to": category,
                "nlu_intent": str((ticket.extra or {}).get("nlu_intent", "")),
            },
        )
        if is_open(ticket.status):
            locale = await reporter_locale(uow, ticket)
            label = category_label(category, locale)
            text = _t("recategorized", locale, number=ticket.number, category=label)
            data = {"number": ticket.number, "event": "recategorize"}
            await self.notify.push_reporter(
                uow, ticket, Outbound(text=text, kind="progress", data=data)
            )
        return previous

    async def add_note(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        note: str,
        actor: Actor,
        *,
        tell_resident: bool = False,
    ) -> None:
        """Add a note to the timeline (any status). The assignee of an open ticket is told
        (unless they wrote it); the resident and the ticket's followers too when
        ``tell_resident``.

        Raises:
            PermissionDenied: the note is empty.
        """
        note = note.strip()[:MAX_NOTE]
        if not note:
            raise PermissionDenied("a note needs text")
        await self.moves.apply(
            uow, ticket, Move.NOTE, actor, note=note, data={"told_resident": tell_resident}
        )
        assignee = ticket.assignee_id
        if is_open(ticket.status) and assignee is not None and assignee != actor.worker_id:
            notice = worker_notice("worker.note", ticket.number, note=note, status=ticket.status)
            await self.notify.push_to_worker(uow, assignee, notice, ticket)
        if tell_resident:
            await self.notify.push_resident(uow, ticket, "note", note=note)

    async def close(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        *,
        reason: str,
        withdraw_unaccepted: bool = False,
    ) -> None:
        """Close a ticket with a reason, whatever stage its work is at.

        A resolved ticket is closed; one being worked on is resolved and closed. One nobody
        has accepted yet is withdrawn (cancelled) when ``withdraw_unaccepted`` (the console's
        关闭 button) and refused otherwise (use ``cancel``). Tickets waiting for a transferred,
        escalated or reopened acceptance are refused: reassign them first. Every SLA clock of
        the ticket stops; the resident, the followers and the assignee are told.

        Raises:
            PermissionDenied: no reason given.
            InvalidTransition: the ticket cannot be closed from its status.
        """
        reason = reason.strip()[:MAX_NOTE]
        if not reason:
            raise PermissionDenied("closing a ticket needs a reason")
        status = Status(ticket.status)
        if status in FINAL:
            raise InvalidTransition(f"the ticket is {status.value} already")
        was_open = is_open(ticket.status)
        if status == Status.RESOLVED:
            await self.moves.apply(uow, ticket, Move.CLOSE, actor, note=reason)
        elif status in WORKING:
            await self.moves.apply(uow, ticket, Move.RESOLVE, actor, note=reason)
            await self.moves.apply(uow, ticket, Move.CLOSE, actor, note=reason)
        elif status in UNACCEPTED and withdraw_unaccepted:
            await self.moves.apply(uow, ticket, Move.CANCEL, actor, note=reason)
        elif status in UNACCEPTED:
            raise InvalidTransition(f"cannot close a ticket that is {status.value}; cancel it")
        else:
            raise InvalidTransition(f"cannot close a ticket that is {status.value}; reassign it")
        kind = "cancelled" if ticket.status == Status.CANCELLED else "closed"
        await self.notify.push_resident(uow, ticket, kind, note=reason)
        if was_open and ticket.assignee_id is not None:
            text = _t("closed_worker", number=ticket.number, actor=actor.name, reason=reason)
            await self.notify.push_to_worker(
                uow, ticket.assignee_id, _notice(text, ticket.number), ticket
            )

    async def cancel(self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, reason: str) -> None:
        """Withdraw a ticket nobody has accepted yet (a mistaken or test report)."""
        await self.moves.apply(uow, ticket, Move.CANCEL, actor, note=reason)
        await self.notify.push_resident(uow, ticket, "cancelled", note=reason)
        if ticket.assignee_id:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                Outbound(text=t("push.cancelled", number=ticket.number, note=reason)),
                ticket,
            )

    async def escalate_manually(
        self, uow: UnitOfWork, ticket: Ticket, actor: Actor, *, reason: str
    ) -> None:
        """Escalate one level above the current handler by hand."""
        level = min(TOP_LEVEL, await handler_level(uow, ticket) + 1)
        await self.escalation.escalate(uow, ticket, level, actor, reason=reason, why="manual")
