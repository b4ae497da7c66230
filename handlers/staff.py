"""What community staff do to a ticket from the console: reassign, re-categorise, note, close.

Every move goes through :meth:`TicketService.apply` (the state machine, the ``TicketEvent``
with ``actor_type="admin"``, the SLA clocks it starts or stops), and the resident, the
ticket's followers and the workers are told through the outbox in the caller's transaction
(sent only if it commits). The caller checks
permissions (bot/admin/policy.py), commits, and wakes the dispatcher when ``uow.queued``.

```mermaid
stateDiagram-v2
    submitted --> assigned: reassign (first assignment)
    assigned --> transferred: reassign
    accepted --> transferred: reassign
    submitted --> cancelled: close (nothing done yet)
    assigned --> cancelled: close
    accepted --> resolved: close
    in_progress --> resolved: close
    resolved --> closed: close
```
"""

from __future__ import annotations

from handlers.errors import InvalidTransition, PermissionDenied
from handlers.flows import category_label, flow_for_category
from handlers.i18n import pick
from handlers.lifecycle import FINAL, WORKING, Actor, Move, Status, is_open
from handlers.messages import Outbound
from handlers.notices import task_buttons
from handlers.service import outbound_to_dict
from handlers.ticket_service import TicketService
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket

MAX_NOTE = 2000

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
    "note_worker": {
        "zh": "【社区备注】工单 {number}：{note}",
        "en": "[Staff note] {number}: {note}",
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


async def _resident_locale(uow: UnitOfWork, ticket: Ticket) -> str:
    if ticket.resident_id is None:
        return "zh"
    resident = await uow.registry.resident(ticket.resident_id)
    return resident.locale if resident else "zh"


async def reassign(
    service: TicketService,
    uow: UnitOfWork,
    ticket: Ticket,
    worker: GridWorker,
    actor: Actor,
    *,
    reason: str = "",
) -> None:
    """Give an open ticket to another worker of its community.

    The new worker gets the task card (and an accept clock), the previous one a notice, the
    resident and the ticket's followers an update.

    Raises:
        InvalidTransition: the ticket is no longer open.
        PermissionDenied: the worker is inactive, of another community, or already assigned.
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
    await service.assign(
        uow,
        ticket,
        worker,
        reason,
        actor=actor,
        move=move,
        prefix=_t("reassigned_in", actor=actor.name, number=ticket.number, reason=reason or "—"),
    )
    if previous is not None and previous != worker.id:
        notice = Outbound(
            text=_t("reassigned_out", number=ticket.number, actor=actor.name, target=worker.name),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await service.push_to_worker(uow, previous, notice, ticket)
    await service.push_resident(uow, ticket, "transferred", target=f"网格员{worker.name}")


async def recategorize(
    service: TicketService,
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
    ticket.updated_at = service.clock.now()
    await uow.tickets.save(ticket)
    await service.event(
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
    if is_open(ticket.status) and ticket.channel and ticket.channel_user_id:
        locale = await _resident_locale(uow, ticket)
        text = _t(
            "recategorized", locale, number=ticket.number, category=category_label(category, locale)
        )
        message = Outbound(
            text=text, kind="progress", data={"number": ticket.number, "event": "recategorize"}
        )
        await uow.outbox.enqueue(
            ticket.channel,
            ticket.channel_user_id,
            outbound_to_dict(message),
            now=service.clock.now(),
            ticket_id=ticket.id,
        )
        uow.queued += 1
    return previous


async def add_note(
    service: TicketService,
    uow: UnitOfWork,
    ticket: Ticket,
    note: str,
    actor: Actor,
    *,
    tell_resident: bool = False,
) -> None:
    """Add a note to the timeline; the assigned worker of an open ticket is told, and the
    resident (and the ticket's followers) too when ``tell_resident``.

    Raises:
        PermissionDenied: the note is empty.
    """
    note = note.strip()[:MAX_NOTE]
    if not note:
        raise PermissionDenied("a note needs text")
    await service.apply(
        uow, ticket, Move.NOTE, actor, note=note, data={"told_resident": tell_resident}
    )
    if is_open(ticket.status) and ticket.assignee_id is not None:
        notice = Outbound(
            text=_t("note_worker", number=ticket.number, note=note),
            buttons=task_buttons(ticket.number, "zh", ticket.status),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await service.push_to_worker(uow, ticket.assignee_id, notice, ticket)
    if tell_resident:
        await service.push_resident(uow, ticket, "note", note=note)


async def close(
    service: TicketService,
    uow: UnitOfWork,
    ticket: Ticket,
    actor: Actor,
    *,
    reason: str,
) -> None:
    """Close a ticket from the console.

    A resolved ticket is closed; one being worked on is resolved and closed; one nobody has
    accepted yet is cancelled. Tickets waiting for a transferred, escalated or reopened
    acceptance are refused: reassign them first. Every SLA clock of the ticket stops; the
    resident, the followers and the assignee are told.

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
        await service.apply(uow, ticket, Move.CLOSE, actor, note=reason)
    elif status in WORKING:
        await service.apply(uow, ticket, Move.RESOLVE, actor, note=reason)
        await service.apply(uow, ticket, Move.CLOSE, actor, note=reason)
    elif status in (Status.SUBMITTED, Status.ASSIGNED):
        await service.apply(uow, ticket, Move.CANCEL, actor, note=reason)
    else:
        raise InvalidTransition(f"cannot close a ticket that is {status.value}; reassign it")
    kind = "cancelled" if ticket.status == Status.CANCELLED else "closed"
    await service.push_resident(uow, ticket, kind, note=reason)
    if was_open and ticket.assignee_id is not None:
        notice = Outbound(
            text=_t("closed_worker", number=ticket.number, actor=actor.name, reason=reason),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await service.push_to_worker(uow, ticket.assignee_id, notice, ticket)
