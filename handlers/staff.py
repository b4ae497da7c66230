"""What community staff do to a ticket from the console: reassign, re-categorise, note, close.

Same conventions as the service: every change is a ``TicketEvent`` (``actor_type="admin"``),
state changes go through ``lifecycle.next_status``, and the resident and workers are told
through the outbox in the caller's transaction (sent only if it commits). The caller checks
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

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from handlers.errors import InvalidTransition, PermissionDenied
from handlers.flows import category_label, flow_for_category
from handlers.i18n import pick
from handlers.lifecycle import FINAL, WORKING, Move, Status, is_open, next_status
from handlers.messages import Outbound
from handlers.notices import TicketFacts, resident_update, task_buttons, task_card
from handlers.service import outbound_to_dict
from storage.interfaces import UnitOfWork
from storage.models import GridWorker, Ticket, TicketEvent

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
    "closed_resident": {
        "zh": "工单已由社区工作人员关闭。说明：{reason}",
        "en": "closed by community staff. Reason: {reason}",
    },
    "closed_worker": {
        "zh": "工单 {number} 已由{actor}关闭：{reason}",
        "en": "{actor} closed {number}: {reason}",
    },
}


def _t(key: str, locale: str = "zh", **values: object) -> str:
    return pick(_TEXT[key], locale).format(**values)


@dataclass(frozen=True, slots=True)
class StaffActor:
    """The console user acting (recorded on events as ``actor_type="admin"``)."""

    id: str
    name: str


def _facts(ticket: Ticket, photos: int = 0) -> TicketFacts:
    return TicketFacts(
        number=ticket.number,
        category=ticket.category,
        priority=ticket.priority,
        status=ticket.status,
        description=ticket.description,
        building_name=ticket.building_name,
        unit=ticket.unit,
        room=ticket.room,
        location_note=ticket.location_note,
        phone=ticket.contact_phone,
        created_at=ticket.created_at,
        plate=str((ticket.extra or {}).get("plate", "")),
        photos=photos,
    )


async def _event(
    uow: UnitOfWork,
    ticket: Ticket,
    kind: str,
    actor: StaffActor,
    now: datetime,
    *,
    before: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    await uow.tickets.add_event(
        TicketEvent(
            ticket_id=ticket.id or 0,
            at=now,
            kind=kind,
            actor_type="admin",
            actor_id=actor.id,
            actor_name=actor.name,
            from_status=before,
            to_status=ticket.status,
            note=note,
            data=data or {},
        )
    )


async def _move(
    uow: UnitOfWork, ticket: Ticket, move: Move, actor: StaffActor, now: datetime, note: str
) -> None:
    before = ticket.status
    ticket.status = next_status(ticket.status, move).value
    ticket.updated_at = now
    if move == Move.RESOLVE:
        ticket.resolved_at = now
    if move in (Move.CLOSE, Move.CANCEL):
        ticket.closed_at = now
    await uow.tickets.save(ticket)
    await _event(uow, ticket, move.value, actor, now, before=before, note=note)


async def _resident_locale(uow: UnitOfWork, ticket: Ticket) -> str:
    if ticket.resident_id is None:
        return "zh"
    resident = await uow.registry.resident(ticket.resident_id)
    return resident.locale if resident else "zh"


async def _push_resident(uow: UnitOfWork, ticket: Ticket, message: Outbound, now: datetime) -> None:
    if not ticket.channel or not ticket.channel_user_id:
        return
    await uow.outbox.enqueue(
        ticket.channel,
        ticket.channel_user_id,
        outbound_to_dict(message),
        now=now,
        ticket_id=ticket.id,
    )
    uow.queued += 1


async def _push_worker(
    uow: UnitOfWork, worker_id: int, ticket: Ticket, message: Outbound, now: datetime
) -> bool:
    """Queue a message to the worker's preferred reachable channel; False if they have none."""
    identities = [i for i in await uow.registry.worker_identities(worker_id) if i.reachable]
    if not identities:
        return False
    await uow.outbox.enqueue(
        identities[0].channel,
        identities[0].user_id,
        outbound_to_dict(message),
        now=now,
        ticket_id=ticket.id,
        worker_id=worker_id,
    )
    uow.queued += 1
    return True


async def reassign(
    uow: UnitOfWork,
    ticket: Ticket,
    worker: GridWorker,
    actor: StaffActor,
    *,
    now: datetime,
    reason: str = "",
) -> None:
    """Give an open ticket to another worker of its community.

    The new worker gets the task card, the previous one a notice, the resident an update.

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
    before = ticket.status
    ticket.status = next_status(ticket.status, move).value
    ticket.assignee_id = worker.id
    ticket.assigned_at = now
    ticket.updated_at = now
    if worker.grid_id is not None:
        ticket.grid_id = worker.grid_id
    await uow.tickets.save(ticket)
    reason = reason.strip()[:MAX_NOTE]
    await _event(
        uow,
        ticket,
        move.value,
        actor,
        now,
        before=before,
        note=reason,
        data={"assignee_id": worker.id, "assignee": worker.name, "previous_id": previous},
    )
    photos = await uow.attachments.for_ticket(ticket.id or 0)
    card = task_card(
        _facts(ticket, len(photos)),
        "zh",
        prefix=_t("reassigned_in", actor=actor.name, number=ticket.number, reason=reason or "—"),
    )
    if photos:
        card = replace(card, image=f"attachment:{photos[0].id}")
    await _push_worker(uow, worker.id or 0, ticket, card, now)
    if previous is not None and previous != worker.id:
        notice = Outbound(
            text=_t("reassigned_out", number=ticket.number, actor=actor.name, target=worker.name),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await _push_worker(uow, previous, ticket, notice, now)
    locale = await _resident_locale(uow, ticket)
    target = f"网格员{worker.name}" if locale == "zh" else f"grid worker {worker.name}"
    await _push_resident(
        uow, ticket, resident_update("transferred", _facts(ticket), locale, target=target), now
    )


async def recategorize(
    uow: UnitOfWork,
    ticket: Ticket,
    category: str,
    actor: StaffActor,
    *,
    now: datetime,
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
    ticket.updated_at = now
    await uow.tickets.save(ticket)
    await _event(
        uow,
        ticket,
        "recategorize",
        actor,
        now,
        before=ticket.status,
        note=note.strip()[:MAX_NOTE],
        data={
            "from": previous,
            "to": category,
            "nlu_intent": str((ticket.extra or {}).get("nlu_intent", "")),
        },
    )
    if is_open(ticket.status):
        locale = await _resident_locale(uow, ticket)
        text = _t(
            "recategorized", locale, number=ticket.number, category=category_label(category, locale)
        )
        message = Outbound(
            text=text, kind="progress", data={"number": ticket.number, "event": "recategorize"}
        )
        await _push_resident(uow, ticket, message, now)
    return previous


async def add_note(
    uow: UnitOfWork,
    ticket: Ticket,
    note: str,
    actor: StaffActor,
    *,
    now: datetime,
    tell_resident: bool = False,
) -> None:
    """Add a note to the timeline; the assigned worker of an open ticket is told, and the
    resident too when ``tell_resident``.

    Raises:
        PermissionDenied: the note is empty.
    """
    note = note.strip()[:MAX_NOTE]
    if not note:
        raise PermissionDenied("a note needs text")
    await _event(
        uow,
        ticket,
        "note",
        actor,
        now,
        before=ticket.status,
        note=note,
        data={"told_resident": tell_resident},
    )
    if is_open(ticket.status) and ticket.assignee_id is not None:
        notice = Outbound(
            text=_t("note_worker", number=ticket.number, note=note),
            buttons=task_buttons(ticket.number, "zh", ticket.status),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await _push_worker(uow, ticket.assignee_id, ticket, notice, now)
    if tell_resident:
        locale = await _resident_locale(uow, ticket)
        await _push_resident(
            uow, ticket, resident_update("progress", _facts(ticket), locale, note=note), now
        )


async def close(
    uow: UnitOfWork,
    ticket: Ticket,
    actor: StaffActor,
    *,
    now: datetime,
    reason: str,
) -> None:
    """Close a ticket from the console.

    A resolved ticket is closed; one being worked on is resolved and closed; one nobody has
    accepted yet is cancelled. Tickets waiting for a transferred, escalated or reopened
    acceptance are refused: reassign them first.

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
        await _move(uow, ticket, Move.CLOSE, actor, now, reason)
    elif status in WORKING:
        await _move(uow, ticket, Move.RESOLVE, actor, now, reason)
        await _move(uow, ticket, Move.CLOSE, actor, now, reason)
    elif status in (Status.SUBMITTED, Status.ASSIGNED):
        await _move(uow, ticket, Move.CANCEL, actor, now, reason)
    else:
        raise InvalidTransition(f"cannot close a ticket that is {status.value}; reassign it")
    locale = await _resident_locale(uow, ticket)
    note = _t("closed_resident", locale, reason=reason)
    await _push_resident(
        uow, ticket, resident_update("progress", _facts(ticket), locale, note=note), now
    )
    if was_open and ticket.assignee_id is not None:
        notice = Outbound(
            text=_t("closed_worker", number=ticket.number, actor=actor.name, reason=reason),
            kind="worker_notice",
            data={"number": ticket.number},
        )
        await _push_worker(uow, ticket.assignee_id, ticket, notice, now)
